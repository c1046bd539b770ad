import { useMutation, useQuery } from '@tanstack/react-query';
import type { UseQueryResult } from '@tanstack/react-query';
import { useEffect, useId, useRef, useState } from 'react';
import type { FormEvent, ReactNode } from 'react';

import { describeError, fieldErrors } from './api';

export function Page(props: {
  title: string;
  actions?: ReactNode;
  children: ReactNode;
}): React.JSX.Element {
  useEffect(() => {
    document.title = `${props.title} · Tessera`;
  }, [props.title]);
  return (
    <section className="page" aria-labelledby="page-title">
      <header className="page-header">
        <h1 id="page-title">{props.title}</h1>
        <div className="actions">{props.actions}</div>
      </header>
      {props.children}
    </section>
  );
}

export function Loading(): React.JSX.Element {
  return (
    <p className="loading" role="status">
      Loading…
    </p>
  );
}

export function ErrorBanner({ error }: { error: unknown }): React.JSX.Element | null {
  if (error === null || error === undefined) {
    return null;
  }
  return (
    <p className="error" role="alert">
      {describeError(error)}
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }): React.JSX.Element {
  return <p className="empty">{children}</p>;
}

/** Loading, error or the content of a query, in one place for every screen. */
export function Loaded<T>(props: {
  query: UseQueryResult<T>;
  children: (data: T) => ReactNode;
}): React.JSX.Element {
  if (props.query.isPending) {
    return <Loading />;
  }
  if (props.query.isError) {
    return <ErrorBanner error={props.query.error} />;
  }
  return <>{props.children(props.query.data)}</>;
}

export interface Column<T> {
  label: string;
  cell: (row: T) => ReactNode;
}

export function Table<T>(props: {
  caption: string;
  rows: readonly T[];
  columns: readonly Column<T>[];
  rowKey?: (row: T) => string;
  empty: ReactNode;
}): React.JSX.Element {
  if (props.rows.length === 0) {
    return <Empty>{props.empty}</Empty>;
  }
  return (
    <table>
      <caption className="visually-hidden">{props.caption}</caption>
      <thead>
        <tr>
          {props.columns.map((column) => (
            <th key={column.label} scope="col">
              {column.label}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {props.rows.map((row, i) => (
          <tr key={props.rowKey?.(row) ?? (row as { id?: string }).id ?? i}>
            {props.columns.map((column) => (
              <td key={column.label}>{column.cell(row)}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export interface Page_<T> {
  data: T[];
  nextCursor: string | null;
}

/** A cursor-paginated list: the cursors seen so far make "Previous" work without offsets. */
export function CursorList<T>(props: {
  queryKey: readonly unknown[];
  page: (cursor: string | undefined) => Promise<Page_<T>>;
  caption: string;
  columns: readonly Column<T>[];
  empty: ReactNode;
}): React.JSX.Element {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const key = JSON.stringify(props.queryKey);
  useEffect(() => setCursors([undefined]), [key]);
  const query = useQuery({
    queryKey: [...props.queryKey, cursor],
    queryFn: () => props.page(cursor),
  });
  return (
    <Loaded query={query}>
      {(page) => (
        <>
          <Table
            caption={props.caption}
            rows={page.data}
            columns={props.columns}
            empty={props.empty}
          />
          <nav className="pager" aria-label={`${props.caption} pages`}>
            <button
              type="button"
              disabled={cursors.length === 1}
              onClick={() => setCursors(cursors.slice(0, -1))}
            >
              Previous
            </button>
            <button
              type="button"
              disabled={page.nextCursor === null}
              onClick={() => setCursors([...cursors, page.nextCursor ?? undefined])}
            >
              Next
            </button>
          </nav>
        </>
      )}
    </Loaded>
  );
}

export interface Field {
  name: string;
  label: string;
  type?:
    'text' | 'email' | 'password' | 'number' | 'url' | 'datetime-local' | 'checkbox' | 'select';
  options?: readonly { value: string; label: string }[];
  required?: boolean;
  hint?: string;
  initial?: string | boolean;
  autoComplete?: string;
}

export type FormValues = Record<string, string | boolean>;

/**
 * A form whose errors come from the server: each VALIDATION_FAILED message goes under the field it names,
 * anything else into the banner. Empty optional fields are left out of the request.
 */
export function Form<R>(props: {
  fields: readonly Field[];
  submitLabel: string;
  submit: (values: FormValues) => Promise<R>;
  onDone?: (result: R) => void;
}): React.JSX.Element {
  const id = useId();
  const initial = (): FormValues =>
    Object.fromEntries(
      props.fields.map((f) => [f.name, f.initial ?? (f.type === 'checkbox' ? false : '')]),
    );
  const [values, setValues] = useState<FormValues>(initial);
  const mutation = useMutation({
    mutationFn: props.submit,
    onSuccess: (result) => {
      setValues(initial());
      props.onDone?.(result);
    },
  });
  const errors = mutation.isError
    ? fieldErrors(
        mutation.error,
        props.fields.map((f) => f.name),
      )
    : {};
  const onSubmit = (event: FormEvent): void => {
    event.preventDefault();
    mutation.mutate(values);
  };
  const bannerError =
    mutation.isError && Object.keys(errors).length === 0 ? mutation.error : undefined;
  return (
    <form onSubmit={onSubmit} className="form" noValidate>
      {props.fields.map((field) => {
        const inputId = `${id}-${field.name}`;
        const error = errors[field.name];
        const described = [
          error === undefined ? '' : `${inputId}-error`,
          field.hint === undefined ? '' : `${inputId}-hint`,
        ]
          .filter(Boolean)
          .join(' ');
        const common = {
          id: inputId,
          name: field.name,
          'aria-invalid': error === undefined ? undefined : true,
          'aria-describedby': described === '' ? undefined : described,
          required: field.required,
        };
        const value = values[field.name];
        const set = (next: string | boolean): void =>
          setValues((old) => ({ ...old, [field.name]: next }));
        return (
          <div className={`field field-${field.type ?? 'text'}`} key={field.name}>
            <label htmlFor={inputId}>{field.label}</label>
            {field.type === 'select' ? (
              <select {...common} value={String(value)} onChange={(e) => set(e.target.value)}>
                {field.required ? null : <option value="">—</option>}
                {field.options?.map((option) => (
                  <option key={option.value} value={option.value}>
                    {option.label}
                  </option>
                ))}
              </select>
            ) : field.type === 'checkbox' ? (
              <input
                {...common}
                type="checkbox"
                checked={value === true}
                onChange={(e) => set(e.target.checked)}
              />
            ) : (
              <input
                {...common}
                type={field.type ?? 'text'}
                value={String(value)}
                autoComplete={field.autoComplete}
                onChange={(e) => set(e.target.value)}
              />
            )}
            {field.hint === undefined ? null : <small id={`${inputId}-hint`}>{field.hint}</small>}
            {error === undefined ? null : (
              <span className="field-error" id={`${inputId}-error`}>
                {error}
              </span>
            )}
          </div>
        );
      })}
      <ErrorBanner error={bannerError} />
      <button type="submit" disabled={mutation.isPending}>
        {mutation.isPending ? 'Working…' : props.submitLabel}
      </button>
    </form>
  );
}

/** Only the fields with a value, numbers as numbers: optional fields left empty are not sent. */
export function compact(
  values: FormValues,
  numbers: readonly string[] = [],
): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [name, value] of Object.entries(values)) {
    if (value === '') {
      continue;
    }
    out[name] = numbers.includes(name) && typeof value === 'string' ? Number(value) : value;
  }
  return out;
}

/** A modal dialog (the native <dialog>: focus stays inside, Escape closes it). */
export function Dialog(props: {
  title: string;
  open: boolean;
  onClose: () => void;
  children: ReactNode;
}): React.JSX.Element {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (dialog === null) {
      return;
    }
    if (props.open && !dialog.open) {
      dialog.showModal();
    } else if (!props.open && dialog.open) {
      dialog.close();
    }
  }, [props.open]);
  return (
    <dialog ref={ref} aria-labelledby={titleId} onClose={props.onClose}>
      <h2 id={titleId}>{props.title}</h2>
      {props.open ? props.children : null}
    </dialog>
  );
}

/** A secret the server shows once (a license key, an API key, a webhook secret): copy it now. */
export function SecretOnce(props: { label: string; value: string }): React.JSX.Element {
  const [copied, setCopied] = useState(false);
  return (
    <div className="secret" role="group" aria-label={props.label}>
      <p>
        <strong>{props.label}</strong> — shown this once; Tessera keeps only a hash of it.
      </p>
      <code data-testid="secret-value">{props.value}</code>
      <button
        type="button"
        onClick={() => {
          void navigator.clipboard?.writeText(props.value).then(() => setCopied(true));
        }}
      >
        {copied ? 'Copied' : 'Copy'}
      </button>
    </div>
  );
}

export function When({ at }: { at: string | null | undefined }): React.JSX.Element {
  if (at === null || at === undefined) {
    return <span className="muted">—</span>;
  }
  return <time dateTime={at}>{new Date(at).toLocaleString()}</time>;
}

export function Status({ value }: { value: string }): React.JSX.Element {
  return <span className={`badge badge-${value.toLowerCase()}`}>{value}</span>;
}

/** A one-time code field (TOTP, or a recovery code): labelled, numeric keyboard, the browser's OTP fill. */
export function CodeField(props: {
  id: string;
  label: string;
  value: string;
  onChange: (code: string) => void;
  recovery?: boolean;
  autoFocus?: boolean;
}): React.JSX.Element {
  return (
    <div className="field">
      <label htmlFor={props.id}>{props.label}</label>
      <input
        id={props.id}
        inputMode={props.recovery === true ? 'text' : 'numeric'}
        autoComplete="one-time-code"
        value={props.value}
        onChange={(e) => props.onChange(e.target.value.trim())}
        autoFocus={props.autoFocus}
        required
      />
    </div>
  );
}
