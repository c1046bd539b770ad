import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type { ReactNode } from 'react';

import { match } from '../src/router';
import { CursorList } from '../src/ui';
import type { Page_ } from '../src/ui';

interface Row {
  id: string;
  name: string;
}

/** Five rows, two a page: the cursor is the id of the last row sent. */
function pages(filter: string) {
  const rows = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id, name: `${filter}${id}` }));
  return jest.fn((cursor: string | undefined): Promise<Page_<Row>> => {
    const start = cursor === undefined ? 0 : rows.findIndex((r) => r.id === cursor) + 1;
    const data = rows.slice(start, start + 2);
    const last = data[data.length - 1];
    return Promise.resolve({
      data,
      nextCursor: start + 2 < rows.length && last !== undefined ? last.id : null,
    });
  });
}

let client: QueryClient;
beforeEach(() => {
  client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
});

function withQueries(children: ReactNode): React.JSX.Element {
  return <QueryClientProvider client={client}>{children}</QueryClientProvider>;
}

function list(filter: string, page: ReturnType<typeof pages>): React.JSX.Element {
  return withQueries(
    <CursorList<Row>
      queryKey={['rows', filter]}
      page={page}
      caption="Rows"
      columns={[{ label: 'Name', cell: (r) => r.name }]}
      empty="No rows."
    />,
  );
}

const names = (): string[] =>
  within(screen.getByRole('table'))
    .getAllByRole('cell')
    .map((cell) => cell.textContent ?? '');

describe('CursorList', () => {
  it('pages forward with the cursors and back without offsets', async () => {
    const page = pages('x');
    render(list('x', page));
    await screen.findByRole('table');
    expect(names()).toEqual(['xa', 'xb']);
    const previous = screen.getByRole('button', { name: 'Previous' });
    const next = screen.getByRole('button', { name: 'Next' });
    expect((previous as HTMLButtonElement).disabled).toBe(true);

    await userEvent.click(next);
    await screen.findByText('xc');
    await userEvent.click(screen.getByRole('button', { name: 'Next' }));
    await screen.findByText('xe');
    expect(screen.getByRole<HTMLButtonElement>('button', { name: 'Next' }).disabled).toBe(true);
    expect(page.mock.calls.map(([cursor]) => cursor)).toEqual([undefined, 'b', 'd']);

    await userEvent.click(screen.getByRole('button', { name: 'Previous' }));
    await screen.findByText('xc');
    expect(names()).toEqual(['xc', 'xd']);
  });

  it('starts from the first page when the filter changes', async () => {
    const first = pages('x');
    const { rerender } = render(list('x', first));
    await screen.findByText('xa');
    await userEvent.click(screen.getByRole('button', { name: 'Next' }));
    await screen.findByText('xc');
    const second = pages('y');
    rerender(list('y', second));
    await screen.findByText('ya');
    // Never the old filter's cursor with the new filter.
    expect(second.mock.calls.map(([cursor]) => cursor)).toEqual([undefined]);
    expect(screen.getByRole<HTMLButtonElement>('button', { name: 'Previous' }).disabled).toBe(true);
  });

  it('says so when there is nothing', async () => {
    render(
      withQueries(
        <CursorList<Row>
          queryKey={['none']}
          page={() => Promise.resolve({ data: [], nextCursor: null })}
          caption="Rows"
          columns={[]}
          empty="No rows."
        />,
      ),
    );
    expect(await screen.findByText('No rows.')).toBeTruthy();
  });
});

describe('match', () => {
  it('reads the parameters of a path, decoded', () => {
    expect(match('/licenses/:id', '/licenses/3f%20a')).toEqual({ id: '3f a' });
    expect(match('/licenses', '/licenses')).toEqual({});
  });

  it('refuses a path of another shape', () => {
    expect(match('/licenses/:id', '/licenses')).toBeNull();
    expect(match('/licenses/:id', '/policies/1')).toBeNull();
    expect(match('/licenses/:id', '/licenses/1/machines')).toBeNull();
  });
});
