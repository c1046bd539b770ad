import { useSyncExternalStore } from 'react';
import type { AnchorHTMLAttributes, MouseEvent } from 'react';

// A router of a few lines: every screen is a path under /console/, history.pushState moves between them, and
// the server answers any such path with index.html (the SPA fallback), so a reload or a shared link works.
const BASE = '/console';

const subscribers = new Set<() => void>();
globalThis.addEventListener?.('popstate', () => subscribers.forEach((notify) => notify()));

function subscribe(notify: () => void): () => void {
  subscribers.add(notify);
  return () => subscribers.delete(notify);
}

function currentPath(): string {
  const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : '/';
  return path === '' ? '/' : path;
}

export function usePath(): string {
  return useSyncExternalStore(subscribe, currentPath);
}

function navigate(path: string): void {
  history.pushState(null, '', `${BASE}${path}`);
  subscribers.forEach((notify) => notify());
}

/** `/licenses/:id` against `/licenses/3f…`: the parameters, or null when the path does not match. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) {
    return null;
  }
  const params: Record<string, string> = {};
  for (const [i, part] of want.entries()) {
    const value = got[i] ?? '';
    if (part.startsWith(':')) {
      params[part.slice(1)] = decodeURIComponent(value);
    } else if (part !== value) {
      return null;
    }
  }
  return params;
}

export function Link({
  to,
  ...props
}: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>): React.JSX.Element {
  const onClick = (event: MouseEvent<HTMLAnchorElement>): void => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
      return;
    }
    event.preventDefault();
    navigate(to);
  };
  const path = usePath();
  const active = path === to || (to !== '/' && path.startsWith(`${to}/`));
  return (
    <a
      href={`${BASE}${to}`}
      onClick={onClick}
      aria-current={active ? 'page' : undefined}
      {...props}
    />
  );
}
