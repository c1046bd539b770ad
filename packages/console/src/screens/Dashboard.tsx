import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

import { api, unwrap } from '../api';
import type { Schemas } from '../api';
import type { ScreenProps } from '../App';
import { Link } from '../router';
import { Loaded, Page, Table, When } from '../ui';

type Series = Schemas['TimeSeriesDto'];

const DAYS = 14;

function range(): { from: string; interval: 'day' } {
  return { from: new Date(Date.now() - DAYS * 86_400_000).toISOString(), interval: 'day' };
}

/** Seats, activity over the last two weeks, webhook health and the audit chain, from the reports API. */
export function Dashboard({ can }: ScreenProps): React.JSX.Element {
  const queries = useQueryClient();
  const seats = useQuery({
    queryKey: ['reports', 'seats'],
    queryFn: () => unwrap(api.GET('/v1/reports/seats')),
  });
  const validations = useQuery({
    queryKey: ['reports', 'validations'],
    queryFn: () => unwrap(api.GET('/v1/reports/validations', { params: { query: range() } })),
  });
  const activations = useQuery({
    queryKey: ['reports', 'activations'],
    queryFn: () => unwrap(api.GET('/v1/reports/activations', { params: { query: range() } })),
  });
  const deliveries = useQuery({
    queryKey: ['reports', 'webhook-deliveries'],
    queryFn: () =>
      unwrap(api.GET('/v1/reports/webhook-deliveries', { params: { query: range() } })),
  });
  return (
    <Page
      title="Dashboard"
      actions={
        <button
          type="button"
          onClick={() => {
            void queries.invalidateQueries({ queryKey: ['reports'] });
            void queries.invalidateQueries({ queryKey: ['audit'] });
          }}
        >
          Refresh
        </button>
      }
    >
      <div className="cards">
        <section className="card" aria-labelledby="seats-title">
          <h2 id="seats-title">Seats in use</h2>
          <Loaded query={seats}>
            {(report) => (
              <Table
                caption="Seats by product"
                rows={report.products}
                rowKey={(p) => p.productId}
                empty="No products yet."
                columns={[
                  { label: 'Product', cell: (p) => p.productCode },
                  { label: 'Licenses', cell: (p) => p.licenses },
                  {
                    label: 'Seats used',
                    cell: (p) => (
                      <span data-testid={`seats-${p.productCode}`}>
                        {p.seatsUsed} of {p.seatsAllowed}
                        {p.unlimitedLicenses > 0 ? ` (+${p.unlimitedLicenses} unlimited)` : ''}
                      </span>
                    ),
                  },
                ]}
              />
            )}
          </Loaded>
        </section>
        <section className="card" aria-labelledby="validations-title">
          <h2 id="validations-title">Validations, last {DAYS} days</h2>
          <Loaded query={validations}>{(report) => <Chart report={report} />}</Loaded>
        </section>
        <section className="card" aria-labelledby="activations-title">
          <h2 id="activations-title">Activations, last {DAYS} days</h2>
          <Loaded query={activations}>{(report) => <Chart report={report} />}</Loaded>
        </section>
        <section className="card" aria-labelledby="webhooks-title">
          <h2 id="webhooks-title">Webhook deliveries, last {DAYS} days</h2>
          <Loaded query={deliveries}>{(report) => <Totals report={report} />}</Loaded>
        </section>
        {can('audit.verify') ? <AuditChain /> : null}
      </div>
    </Page>
  );
}

function Totals({ report }: { report: Series }): React.JSX.Element {
  return (
    <dl className="totals" data-testid={`totals-${report.report}`}>
      <div>
        <dt>total</dt>
        <dd data-testid={`total-${report.report}`}>
          {Object.values(report.totals).reduce((sum, n) => sum + n, 0)}
        </dd>
      </div>
      {report.series
        .filter((name) => (report.totals[name] ?? 0) > 0)
        .map((name) => (
          <div key={name}>
            <dt>{name}</dt>
            <dd>{report.totals[name] ?? 0}</dd>
          </div>
        ))}
    </dl>
  );
}

const COLOURS = ['#3451b2', '#c2410c', '#15803d', '#7e22ce', '#b91c1c', '#0e7490'];

/** A uPlot line chart of every series, with the totals as text (the chart itself is not read aloud). */
function Chart({ report }: { report: Series }): React.JSX.Element {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current;
    if (element === null) {
      return;
    }
    const x = report.buckets.map((b) => Date.parse(b.start) / 1000);
    const ys = report.series.map((name) => report.buckets.map((b) => b.counts[name] ?? 0));
    const plot = new uPlot(
      {
        width: Math.max(280, element.clientWidth),
        height: 180,
        series: [
          {},
          ...report.series.map((name, i) => ({
            label: name,
            stroke: COLOURS[i % COLOURS.length],
            width: 2,
          })),
        ],
        axes: [{}, { size: 40 }],
        // The totals below name every series; uPlot's own legend would repeat them in a long list.
        legend: { show: false },
      },
      [x, ...ys],
      element,
    );
    return () => plot.destroy();
  }, [report]);
  return (
    <>
      <div ref={box} className="chart" aria-hidden="true" />
      <Totals report={report} />
    </>
  );
}

function AuditChain(): React.JSX.Element {
  const verify = useQuery({
    queryKey: ['audit', 'verify'],
    queryFn: () => unwrap(api.GET('/v1/audit/verify')),
  });
  const checkpoints = useQuery({
    queryKey: ['audit', 'checkpoints'],
    queryFn: () => unwrap(api.GET('/v1/audit/checkpoints')),
  });
  return (
    <section className="card" aria-labelledby="chain-title">
      <h2 id="chain-title">Audit chain</h2>
      <Loaded query={verify}>
        {(result) => (
          <p data-testid="chain-status">
            {result.ok
              ? `Intact: ${result.checked} events checked${result.pending > 0 ? `, ${result.pending} pending` : ''}.`
              : `Broken at event ${result.brokenAt?.sequence ?? '?'}.`}
          </p>
        )}
      </Loaded>
      <Loaded query={checkpoints}>
        {(list) => {
          const last = list.data[0];
          return last === undefined ? (
            <p>No signed checkpoint yet.</p>
          ) : (
            <p>
              Last checkpoint at event {last.sequence}, <When at={last.createdAt} /> (key {last.kid}
              ).
            </p>
          );
        }}
      </Loaded>
      <Link to="/audit">Open the audit log</Link>
    </section>
  );
}
