import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';

import { api, unwrap } from '../api';
import type { Schemas } from '../api';
import type { ScreenProps } from '../App';
import { ErrorBanner, Loaded, Page, Status, Table, When } from '../ui';

type Purpose = Schemas['SigningKeyDto']['purpose'];
const PURPOSES: readonly Purpose[] = ['license', 'webhook', 'audit'];

/** Signing keys by purpose; rotation is a sensitive action: the API asks for a step-up, the console prompts. */
export function SigningKeys({ can }: ScreenProps): React.JSX.Element {
  const queries = useQueryClient();
  const keys = useQuery({
    queryKey: ['signing-keys'],
    queryFn: () => unwrap(api.GET('/v1/signing-keys')),
  });
  const rotate = useMutation({
    mutationFn: (purpose: Purpose) =>
      unwrap(api.POST('/v1/signing-keys/actions/rotate', { body: { purpose } })),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ['signing-keys'] }),
  });
  return (
    <Page
      title="Signing keys"
      actions={
        can('signing-key.rotate')
          ? PURPOSES.map((purpose) => (
              <button
                key={purpose}
                type="button"
                disabled={rotate.isPending}
                onClick={() => rotate.mutate(purpose)}
              >
                Rotate {purpose} key
              </button>
            ))
          : null
      }
    >
      <ErrorBanner error={rotate.error} />
      {rotate.data === undefined ? null : (
        <p role="status" className="ok">
          New {rotate.data.purpose} key {rotate.data.kid} is {rotate.data.state.toLowerCase()}.
        </p>
      )}
      <Loaded query={keys}>
        {(list) => (
          <Table
            caption="Signing keys"
            rows={list.data}
            rowKey={(k) => k.kid}
            empty="No signing keys."
            columns={[
              { label: 'Key id', cell: (k) => <code>{k.kid}</code> },
              { label: 'Purpose', cell: (k) => k.purpose },
              { label: 'Algorithm', cell: (k) => k.algorithm },
              { label: 'Backend', cell: (k) => k.backend },
              { label: 'State', cell: (k) => <Status value={k.state} /> },
              { label: 'Activated', cell: (k) => <When at={k.activatedAt} /> },
            ]}
          />
        )}
      </Loaded>
    </Page>
  );
}
