import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { TesseraApiError } from '@tessera/sdk';

import { FilterBar, Form, toBody } from '../src/ui';
import type { Body, Field } from '../src/ui';

const POLICY: readonly Field[] = [
  { name: 'name', label: 'Name', required: true },
  { name: 'maxMachines', label: 'Machines', type: 'number' },
  { name: 'floating', label: 'Floating', type: 'checkbox' },
  {
    name: 'entitlements',
    label: 'Entitlements',
    type: 'multiselect',
    options: [
      { value: 'export-pdf', label: 'Export PDF' },
      { value: 'render', label: 'Render' },
    ],
  },
];

function validationFailed(...errors: string[]): TesseraApiError {
  return new TesseraApiError(400, 'VALIDATION_FAILED', 'The request is not valid.', errors);
}

describe('toBody', () => {
  it('leaves out what a new record left empty and sends numbers as numbers', () => {
    const values = { name: ' Pro ', maxMachines: '3', floating: false, entitlements: [] };
    expect(toBody(POLICY, values)).toEqual({ name: 'Pro', maxMachines: 3, floating: false });
    expect(toBody(POLICY, { ...values, maxMachines: '' })).toEqual({
      name: 'Pro',
      floating: false,
    });
  });

  it('sends an emptied field of an edit as null, so a limit can be cleared', () => {
    expect(toBody(POLICY, { name: 'Pro', maxMachines: '', entitlements: [] }, true)).toEqual({
      name: 'Pro',
      maxMachines: null,
      floating: false,
      entitlements: [],
    });
  });
});

describe('Form', () => {
  it('checks required fields before anything is sent', async () => {
    const submit = jest.fn<Promise<unknown>, [Body]>();
    render(<Form fields={POLICY} submitLabel="Create" submit={submit} />);
    await userEvent.click(screen.getByRole('button', { name: 'Create' }));
    expect(await screen.findByText('Name is required.')).toBeTruthy();
    expect(screen.getByLabelText('Name').getAttribute('aria-invalid')).toBe('true');
    expect(submit).not.toHaveBeenCalled();
  });

  it('sends typed values, then starts again empty', async () => {
    const submit = jest.fn((body: Body) => Promise.resolve(body));
    const onDone = jest.fn();
    render(<Form fields={POLICY} submitLabel="Create" submit={submit} onDone={onDone} />);
    await userEvent.type(screen.getByLabelText('Name'), 'Pro');
    await userEvent.type(screen.getByLabelText('Machines'), '5');
    await userEvent.click(screen.getByLabelText('Floating'));
    await userEvent.selectOptions(screen.getByLabelText('Entitlements'), ['render']);
    await userEvent.click(screen.getByRole('button', { name: 'Create' }));
    const sent = { name: 'Pro', maxMachines: 5, floating: true, entitlements: ['render'] };
    expect(submit).toHaveBeenCalledWith(sent);
    expect(onDone).toHaveBeenCalledWith(sent);
    expect(screen.getByLabelText<HTMLInputElement>('Name').value).toBe('');
  });

  it("puts the server's validation messages under the fields they name", async () => {
    const submit = (): Promise<never> =>
      Promise.reject(validationFailed('maxMachines must not be less than 1'));
    render(<Form fields={POLICY} submitLabel="Create" submit={submit} />);
    await userEvent.type(screen.getByLabelText('Name'), 'Pro');
    await userEvent.type(screen.getByLabelText('Machines'), '0');
    await userEvent.click(screen.getByRole('button', { name: 'Create' }));
    const machines = screen.getByLabelText('Machines');
    expect(await screen.findByText('maxMachines must not be less than 1')).toBeTruthy();
    expect(machines.getAttribute('aria-invalid')).toBe('true');
    expect(machines.getAttribute('aria-describedby')).toContain('-error');
    // The first field in error gets the focus, so a keyboard user lands on it.
    expect(document.activeElement).toBe(machines);
    expect(screen.queryByRole('alert')).toBeNull();
    // What the admin typed is kept.
    expect(screen.getByLabelText<HTMLInputElement>('Name').value).toBe('Pro');
  });

  it('shows an error that names no field in the banner', async () => {
    const submit = (): Promise<never> =>
      Promise.reject(new TesseraApiError(409, 'CONFLICT', 'A product with this code exists.'));
    render(<Form fields={POLICY} submitLabel="Create" submit={submit} />);
    await userEvent.type(screen.getByLabelText('Name'), 'Pro');
    await userEvent.click(screen.getByRole('button', { name: 'Create' }));
    expect((await screen.findByRole('alert')).textContent).toBe('A product with this code exists.');
  });

  it('sends only the changed fields of an edit, and nothing until something changed', async () => {
    const submit = jest.fn((body: Body) => Promise.resolve(body));
    const fields = POLICY.map((f) => ({
      ...f,
      initial: { name: 'Pro', maxMachines: '5', floating: true, entitlements: ['render'] }[f.name],
    }));
    render(<Form edit fields={fields} submitLabel="Save" submit={submit} />);
    const save = screen.getByRole<HTMLButtonElement>('button', { name: 'Save' });
    expect(save.disabled).toBe(true);
    // Changed and changed back is no change: the checkbox is not sent, nor the untouched choices.
    await userEvent.click(screen.getByLabelText('Floating'));
    await userEvent.click(screen.getByLabelText('Floating'));
    expect(save.disabled).toBe(true);
    await userEvent.clear(screen.getByLabelText('Machines'));
    await userEvent.click(save);
    expect(submit).toHaveBeenCalledWith({ maxMachines: null });
  });
});

describe('toBody and passwords', () => {
  it('sends a password exactly as typed', () => {
    const fields: Field[] = [{ name: 'password', label: 'Password', type: 'password' }];
    expect(toBody(fields, { password: '  a long pass phrase ' })).toEqual({
      password: '  a long pass phrase ',
    });
  });
});

describe('FilterBar', () => {
  it('applies only the filters that have a value, times as ISO instants', async () => {
    const onApply = jest.fn();
    render(
      <FilterBar
        idPrefix="audit"
        fields={[
          { name: 'action', label: 'Action' },
          { name: 'actorId', label: 'Actor id' },
          { name: 'from', label: 'From', type: 'datetime-local' },
          {
            name: 'status',
            label: 'Status',
            type: 'select',
            options: [{ value: 'A', label: 'A' }],
          },
        ]}
        onApply={onApply}
      />,
    );
    expect(screen.getByRole('search')).toBeTruthy();
    await userEvent.type(screen.getByLabelText('Action'), ' license.suspended ');
    await userEvent.type(screen.getByLabelText('From'), '2026-12-01T10:30');
    await userEvent.selectOptions(screen.getByLabelText('Status'), 'A');
    await userEvent.click(screen.getByRole('button', { name: 'Filter' }));
    expect(onApply).toHaveBeenCalledWith({
      action: 'license.suspended',
      from: new Date('2026-12-01T10:30').toISOString(),
      status: 'A',
    });
  });
});
