import { useQuery } from '@tanstack/react-query';
import type { UseQueryResult } from '@tanstack/react-query';
import { useEffect, useId, useRef, useState } from 'react';
import { useForm } from 'react-hook-form';
import type { UseFormRegisterReturn, UseFormReturn } from 'react-hook-form';
import type { ReactNode } from 'react';

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
  // The cursors belong to one filter: another filter starts on its first page, in the same render (a stale
  // cursor is never sent with the new filter).
  const key = JSON.stringify(props.queryKey);
  const [paging, setPaging] = useState({ key, cursors: [undefined] as (string | undefined)[] });
  const cursors = paging.key === key ? paging.cursors : [undefined];
  const setCursors = (next: (string | undefined)[]): void => setPaging({ key, cursors: next });
  const cursor = cursors[cursors.length - 1];
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

/** What a control needs to be read with its label, hint and error by a screen reader. */
export interface ControlAria {
  id: string;
  'aria-invalid': true | undefined;
  'aria-describedby': string | undefined;
}

/** A labelled control with its hint and its error; the control itself comes from `children`. */
export function FieldFrame(props: {
  id: string;
  label: string;
  hint?: string;
  error?: string;
  className?: string;
  children: (aria: ControlAria) => ReactNode;
}): React.JSX.Element {
  const errorId = `${props.id}-error`;
  const hintId = `${props.id}-hint`;
  const described = [
    props.error === undefined ? '' : errorId,
    props.hint === undefined ? '' : hintId,
  ]
    .filter(Boolean)
    .join(' ');
  return (
    <div className={props.className ?? 'field'}>
      <label htmlFor={props.id}>{props.label}</label>
      {props.children({
        id: props.id,
        'aria-invalid': props.error === undefined ? undefined : true,
        'aria-describedby': described === '' ? undefined : described,
      })}
      {props.hint === undefined ? null : <small id={hintId}>{props.hint}</small>}
      {props.error === undefined ? null : (
        <span className="field-error" id={errorId}>
          {props.error}
        </span>
      )}
    </div>
  );
}

/** react-hook-form's check of a required field: something other than blanks, or at least one choice. */
export function required(message: string): { validate: (value: unknown) => true | string } {
  return {
    validate: (value) =>
      (typeof value === 'string'
        ? value.trim() !== ''
        : Array.isArray(value)
          ? value.length > 0
          : value !== undefined && value !== null) || message,
  };
}

export function Options(props: {
  options: readonly { value: string; label: string }[] | undefined;
}): React.JSX.Element {
  return (
    <>
      {props.options?.map((option) => (
        <option key={option.value} value={option.value}>
          {option.label}
        </option>
      ))}
    </>
  );
}

export interface Field {
  name: string;
  label: string;
  type?:
    | 'text'
    | 'email'
    | 'password'
    | 'number'
    | 'url'
    | 'datetime-local'
    | 'checkbox'
    | 'select'
    | 'multiselect';
  options?: readonly { value: string; label: string }[];
  required?: boolean;
  hint?: string;
  initial?: FieldValue;
  autoComplete?: string;
}

export type FieldValue = string | boolean | string[];
export type FormValues = Record<string, FieldValue>;
/** What a form sends: numbers as numbers, several choices as a list, a cleared field (in an edit) as null. */
export type Body = Record<string, string | number | boolean | string[] | null>;

function emptyValue(field: Field): FieldValue {
  return field.type === 'checkbox' ? false : field.type === 'multiselect' ? [] : '';
}

/**
 * The request body from a form's values. A new record leaves out what was left empty (the server's default
 * applies); an edit sends every field it is given (Form gives it the changed ones), an emptied one as null,
 * so "unlimited" or "no name" can be chosen. Passwords are sent exactly as typed, spaces included.
 */
export function toBody(fields: readonly Field[], values: FormValues, edit = false): Body {
  const body: Body = {};
  for (const field of fields) {
    const value = values[field.name] ?? emptyValue(field);
    if (typeof value === 'string') {
      const text = value.trim();
      if (text === '') {
        if (edit) {
          body[field.name] = null;
        }
      } else if (field.type === 'password') {
        body[field.name] = value;
      } else {
        body[field.name] = field.type === 'number' ? Number(text) : text;
      }
    } else if (Array.isArray(value)) {
      if (edit || value.length > 0) {
        body[field.name] = value;
      }
    } else {
      body[field.name] = value;
    }
  }
  return body;
}

/**
 * A form (react-hook-form) whose errors also come from the server: each VALIDATION_FAILED message goes under
 * the field it names, anything else into the banner. Required fields are checked before anything is sent.
 */
export function Form<R>(props: {
  fields: readonly Field[];
  submitLabel: string;
  submit: (body: Body) => Promise<R>;
  onDone?: (result: R) => void;
  /** An edit of an existing record: only changed fields are sent, an emptied one as null (toBody). */
  edit?: boolean;
}): React.JSX.Element {
  const id = useId();
  const defaultValues = Object.fromEntries(
    props.fields.map((f) => [f.name, f.initial ?? emptyValue(f)]),
  );
  const form = useForm<FormValues>({ defaultValues });
  const [bannerError, setBannerError] = useState<unknown>(undefined);
  const { errors, isSubmitting, isDirty, dirtyFields } = form.formState;
  const onSubmit = form.handleSubmit(async (values) => {
    setBannerError(undefined);
    let result: R;
    try {
      // An edit sends only what was changed: a PATCH of one name must not pin every other value.
      const fields =
        props.edit === true
          ? props.fields.filter((f) => dirtyFields[f.name] !== undefined)
          : props.fields;
      result = await props.submit(toBody(fields, values, props.edit));
    } catch (error) {
      const byField = Object.entries(
        fieldErrors(
          error,
          props.fields.map((f) => f.name),
        ),
      );
      if (byField.length === 0) {
        setBannerError(error);
      }
      byField.forEach(([name, message], i) =>
        form.setError(name, { type: 'server', message }, { shouldFocus: i === 0 }),
      );
      return;
    }
    form.reset(defaultValues);
    props.onDone?.(result);
  });
  return (
    <form onSubmit={(event) => void onSubmit(event)} className="form" noValidate>
      {props.fields.map((field) => (
        <FieldFrame
          key={field.name}
          id={`${id}-${field.name}`}
          label={field.label}
          hint={field.hint}
          error={errors[field.name]?.message}
          className={`field field-${field.type ?? 'text'}`}
        >
          {(aria) => {
            const control = {
              ...aria,
              'aria-required': field.required === true ? true : undefined,
              ...form.register(
                field.name,
                field.required === true ? required(`${field.label} is required.`) : {},
              ),
            };
            return field.type === 'select' || field.type === 'multiselect' ? (
              <select {...control} multiple={field.type === 'multiselect'}>
                {field.required === true || field.type === 'multiselect' ? null : (
                  <option value="">—</option>
                )}
                <Options options={field.options} />
              </select>
            ) : (
              <input {...control} type={field.type ?? 'text'} autoComplete={field.autoComplete} />
            );
          }}
        </FieldFrame>
      ))}
      <ErrorBanner error={bannerError} />
      <button type="submit" disabled={isSubmitting || (props.edit === true && !isDirty)}>
        {isSubmitting ? 'Working…' : props.submitLabel}
      </button>
    </form>
  );
}

/**
 * A bar of filters (react-hook-form): nothing is applied until "Filter" is pressed, so a list does not
 * reload on every keystroke; empty filters are left out.
 */
export function FilterBar(props: {
  idPrefix: string;
  fields: readonly Field[];
  onApply: (filters: Record<string, string>) => void;
}): React.JSX.Element {
  const form = useForm<Record<string, string>>({
    defaultValues: Object.fromEntries(props.fields.map((f) => [f.name, ''])),
  });
  const apply = form.handleSubmit((values) => {
    const filters: Record<string, string> = {};
    for (const field of props.fields) {
      const value = values[field.name]?.trim() ?? '';
      if (value !== '') {
        filters[field.name] =
          field.type === 'datetime-local' ? new Date(value).toISOString() : value;
      }
    }
    props.onApply(filters);
  });
  return (
    <form className="filters" role="search" onSubmit={(event) => void apply(event)}>
      {props.fields.map((field) => {
        const inputId = `${props.idPrefix}-${field.name}`;
        return (
          <span key={field.name} className="filter">
            <label htmlFor={inputId}>{field.label}</label>
            {field.type === 'select' ? (
              <select id={inputId} {...form.register(field.name)}>
                <option value="">Any</option>
                <Options options={field.options} />
              </select>
            ) : (
              <input id={inputId} type={field.type ?? 'text'} {...form.register(field.name)} />
            )}
          </span>
        );
      })}
      <button type="submit">Filter</button>
    </form>
  );
}

/**
 * A modal dialog (the native <dialog>: focus stays inside, Escape closes it). `dismiss` labels a button
 * after the content that closes it ("Cancel", "Close"); a dialog whose form has its own leaves it out.
 */
export function Dialog(props: {
  title: string;
  open: boolean;
  onClose: () => void;
  dismiss?: string;
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
      {props.open ? (
        <>
          {props.children}
          {props.dismiss === undefined ? null : (
            <button type="button" onClick={props.onClose}>
              {props.dismiss}
            </button>
          )}
        </>
      ) : null}
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
  registration: UseFormRegisterReturn;
  error?: string;
  recovery?: boolean;
  autoFocus?: boolean;
}): React.JSX.Element {
  return (
    <FieldFrame id={props.id} label={props.label} error={props.error}>
      {(aria) => (
        <input
          {...aria}
          inputMode={props.recovery === true ? 'text' : 'numeric'}
          autoComplete="one-time-code"
          autoFocus={props.autoFocus}
          aria-required
          {...props.registration}
        />
      )}
    </FieldFrame>
  );
}

/** A form of one code: the field registered trimmed and required. */
export function useCodeForm(): {
  form: UseFormReturn<{ code: string }>;
  registration: UseFormRegisterReturn;
  error: string | undefined;
} {
  const form = useForm<{ code: string }>({ defaultValues: { code: '' } });
  return {
    form,
    registration: form.register('code', {
      setValueAs: (value: string) => value.trim(),
      ...required('Enter the code.'),
    }),
    error: form.formState.errors.code?.message,
  };
}
