/**
 * Reconciliation runs: newest first in pages, "run now" for a business date (after its cut-off), and one run's report
 * (its sources and cut-offs, the breaks it saw filtered by class, what it cleared, the CSV export).
 */
import { Anchor, Badge, Button, Group, NativeSelect, Paper, Stack, Table, Text, TextInput } from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import { api } from '../../api.ts';
import { DateTime, Empty, ErrorAlert, Loading, Money, Pager, PageTitle, StatusBadge } from '../../ui/components.tsx';
import { useAction, useApi } from '../../ui/useApi.ts';
import { useStaff } from '../auth.tsx';
import { duration, Facts, Json, sentence, To, useOffset, words } from '../common.tsx';
import { ReconNav } from './ReconNav.tsx';
import { breakClasses, type ReconRun, type RunReport } from './types.ts';

const PAGE = 20;

function yesterday(): string {
  const d = new Date(Date.now() - 86_400_000);
  return d.toISOString().slice(0, 10);
}

function RunNow({ onDone }: { onDone: (run: ReconRun) => void }) {
  const [date, setDate] = useState(yesterday);
  const action = useAction(async (d: string) => api.post<{ run: ReconRun }>('/api/backoffice/recon/runs', { date: d }));
  async function submit(event: FormEvent) {
    event.preventDefault();
    const result = await action.run(date);
    if (result) onDone(result.run);
  }
  return (
    <Paper withBorder p="sm">
      <form onSubmit={submit} aria-label="Run a reconciliation now">
        <Group align="flex-end" wrap="wrap">
          <TextInput
            type="date"
            label="Business date"
            description="Compared up to that date's cut-off"
            value={date}
            onChange={(e) => setDate(e.currentTarget.value)}
            required
          />
          <Button type="submit" loading={action.pending}>
            Run now
          </Button>
        </Group>
      </form>
      {action.pending ? (
        <Text size="xs" c="dimmed" mt="xs" aria-live="polite">
          Reconciling: reading the PSP and every server, then comparing. This can take a while.
        </Text>
      ) : null}
      <ErrorAlert error={action.error} />
    </Paper>
  );
}

export function RunList() {
  const { can } = useStaff();
  const navigate = useNavigate();
  const paging = useOffset(PAGE);
  const [date, setDate] = useState('');
  const { data, error, loading, reload } = useApi<{
    items: ReconRun[];
    settings: { cutoff: string; timeZone: string };
  }>('/api/backoffice/recon/runs', { date: date || undefined, limit: paging.limit, offset: paging.offset });
  return (
    <Stack gap="md">
      <PageTitle>Reconciliation</PageTitle>
      <ReconNav />
      {data ? (
        <Text size="sm" c="dimmed">
          Each business day is reconciled after its cut-off at {data.settings.cutoff} ({data.settings.timeZone}).
        </Text>
      ) : null}
      {can('recon.resolve') ? <RunNow onDone={(run) => navigate(`/backoffice/reconciliation/runs/${run.id}`)} /> : null}
      <Group align="flex-end">
        <TextInput
          type="date"
          label="Show runs of"
          value={date}
          onChange={(e) => {
            setDate(e.currentTarget.value);
            paging.reset();
          }}
        />
        {date ? (
          <Anchor component="button" type="button" size="sm" onClick={() => setDate('')}>
            All dates
          </Anchor>
        ) : null}
      </Group>
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data && data.items.length === 0 ? <Empty>No reconciliation runs{date ? ` for ${date}` : ''}.</Empty> : null}
      {data && data.items.length > 0 ? (
        <Table.ScrollContainer minWidth={760}>
          <Table striped highlightOnHover withTableBorder aria-label="Reconciliation runs" data-testid="runs-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Business date</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Trigger</Table.Th>
                <Table.Th ta="right">Breaks</Table.Th>
                <Table.Th ta="right">Open</Table.Th>
                <Table.Th ta="right">New</Table.Th>
                <Table.Th ta="right">Cleared</Table.Th>
                <Table.Th>Started</Table.Th>
                <Table.Th>Took</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.items.map((run) => (
                <Table.Tr key={run.id} data-run={run.id}>
                  <Table.Td>
                    <To to={`/backoffice/reconciliation/runs/${run.id}`} label={`Run of ${run.businessDate}`}>
                      {run.businessDate}
                    </To>
                  </Table.Td>
                  <Table.Td>
                    <StatusBadge status={run.status === 'completed' ? 'succeeded' : run.status} />
                  </Table.Td>
                  <Table.Td>{run.trigger}</Table.Td>
                  <Table.Td ta="right">{run.summary?.breaks ?? '—'}</Table.Td>
                  <Table.Td ta="right">{run.summary?.open ?? '—'}</Table.Td>
                  <Table.Td ta="right">{run.summary ? run.summary.opened + run.summary.reopened : '—'}</Table.Td>
                  <Table.Td ta="right">{run.summary?.cleared ?? '—'}</Table.Td>
                  <Table.Td>
                    <DateTime value={run.startedAt} />
                  </Table.Td>
                  <Table.Td>{run.summary ? duration(run.summary.durationMs / 1000) : '—'}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
      <Pager page={paging.page} hasNext={(data?.items.length ?? 0) === PAGE} onChange={paging.setPage} />
    </Stack>
  );
}

const BREAK_PAGE = 50;

export function RunDetail({ id }: { id: string }) {
  const [params, setParams] = useSearchParams();
  const klass = params.get('class') ?? '';
  const paging = useOffset(BREAK_PAGE);
  const { data, error, loading, reload } = useApi<RunReport>(`/api/backoffice/recon/runs/${id}`, {
    class: klass || undefined,
    limit: paging.limit,
    offset: paging.offset,
  });
  const run = data?.run;
  const total = run?.summary ? (klass ? (run.summary.byClass[klass] ?? 0) : run.summary.breaks) : undefined;
  const hasNext =
    total !== undefined
      ? paging.offset + (data?.breaks.length ?? 0) < total
      : (data?.breaks.length ?? 0) === BREAK_PAGE;

  return (
    <Stack gap="md">
      <PageTitle
        actions={
          run ? (
            <Anchor href={`/api/backoffice/recon/runs/${run.id}/breaks.csv`} download data-testid="csv-export">
              Export breaks (CSV)
            </Anchor>
          ) : null
        }
      >
        {run ? `Reconciliation of ${run.businessDate}` : 'Reconciliation run'}
      </PageTitle>
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {run ? (
        <>
          <Paper withBorder p="sm">
            <Facts
              items={[
                ['Status', <StatusBadge key="s" status={run.status === 'completed' ? 'succeeded' : run.status} />],
                ['Trigger', run.trigger],
                ['Cut-off', <DateTime key="c" value={run.cutoffAt} />],
                ['Window from', <DateTime key="w" value={run.windowStart} />],
                ['Looked back to', <DateTime key="h" value={run.horizonStart} />],
                ['Time zone', `${run.timeZone} (cut-off ${run.cutoffLocal})`],
                ['Started', <DateTime key="st" value={run.startedAt} />],
                ['Finished', <DateTime key="f" value={run.finishedAt} />],
                [
                  'Accounts compared',
                  run.summary ? `${run.summary.accountsCompared} (${run.summary.accountsSkipped} skipped)` : null,
                ],
              ]}
            />
            {run.error ? <ErrorAlert error={`The run failed: ${run.error}`} /> : null}
          </Paper>
          <Sources run={run} />
          {run.summary ? (
            <Group gap="xs" wrap="wrap" role="group" aria-label="Breaks by class">
              <Text size="sm">Breaks by class:</Text>
              {Object.entries(run.summary.byClass).map(([c, n]) => (
                <Badge key={c} variant="light" color={(run.summary?.openByClass[c] ?? 0) > 0 ? 'orange' : 'gray'}>
                  {words(c)}: {n} ({run.summary?.openByClass[c] ?? 0} open)
                </Badge>
              ))}
              {Object.keys(run.summary.byClass).length === 0 ? <Badge color="green">none</Badge> : null}
            </Group>
          ) : null}
          <NativeSelect
            label="Class"
            value={klass}
            w={240}
            onChange={(e) => {
              const v = e.currentTarget.value;
              setParams(v ? { class: v } : {});
              paging.reset();
            }}
            data={[{ value: '', label: 'Every class' }, ...breakClasses.map((c) => ({ value: c, label: sentence(c) }))]}
          />
          {data && data.breaks.length === 0 ? (
            <Empty>No breaks{klass ? ` of class ${words(klass)}` : ''} in this run.</Empty>
          ) : null}
          {data && data.breaks.length > 0 ? (
            <Table.ScrollContainer minWidth={900}>
              <Table striped highlightOnHover withTableBorder aria-label="Breaks this run saw" data-testid="run-breaks">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Class</Table.Th>
                    <Table.Th>What</Table.Th>
                    <Table.Th>Server · login</Table.Th>
                    <Table.Th ta="right">CRM</Table.Th>
                    <Table.Th ta="right">Other source</Table.Th>
                    <Table.Th ta="right">Difference</Table.Th>
                    <Table.Th>Status now</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {data.breaks.map((b) => (
                    <Table.Tr key={b.key} data-break={b.breakId ?? b.key} data-class={b.class}>
                      <Table.Td>
                        {b.breakId ? (
                          <To to={`/backoffice/reconciliation/breaks/${b.breakId}`} label={`Break ${b.key}`}>
                            {sentence(b.class)}
                          </To>
                        ) : (
                          sentence(b.class)
                        )}
                        {b.isNew ? (
                          <Badge ml={6} size="xs" variant="outline">
                            new
                          </Badge>
                        ) : null}
                      </Table.Td>
                      <Table.Td maw={280}>
                        <Text size="xs" style={{ overflowWrap: 'anywhere' }}>
                          {b.reference ?? b.pspTransactionId ?? b.key}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        {b.serverCode ? `${b.serverCode}${b.login ? ` · ${b.login}` : ''}` : (b.psp ?? '—')}
                      </Table.Td>
                      <Table.Td ta="right">
                        {b.currency ? <Money minor={b.crmAmountMinor} currency={b.currency} /> : '—'}
                      </Table.Td>
                      <Table.Td ta="right">
                        {b.currency ? <Money minor={b.otherAmountMinor} currency={b.currency} /> : '—'}
                      </Table.Td>
                      <Table.Td ta="right">
                        {b.currency ? <Money minor={b.differenceMinor} currency={b.currency} /> : '—'}
                      </Table.Td>
                      <Table.Td>
                        <StatusBadge status={b.status} />
                        {b.resolution ? (
                          <Text size="xs" c="dimmed">
                            {words(b.resolution)}
                          </Text>
                        ) : null}
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          ) : null}
          <Pager page={paging.page} hasNext={hasNext} onChange={paging.setPage} />
          {data && data.cleared.length > 0 ? (
            <Paper withBorder p="sm">
              <Text fw={600} size="sm" mb="xs">
                Cleared by this run ({data.cleared.length})
              </Text>
              <Stack gap={2}>
                {data.cleared.map((c) => (
                  <To key={c.breakId} to={`/backoffice/reconciliation/breaks/${c.breakId}`}>
                    {sentence(c.class)}: {c.key}
                  </To>
                ))}
              </Stack>
            </Paper>
          ) : null}
        </>
      ) : null}
    </Stack>
  );
}

function Sources({ run }: { run: ReconRun }) {
  const psp = run.sources?.psp;
  const servers = Object.entries(run.sources?.servers ?? {});
  if (!psp && servers.length === 0) return null;
  return (
    <Paper withBorder p="sm">
      <Text fw={600} size="sm" mb="xs">
        Sources and their cut-offs
      </Text>
      <Table.ScrollContainer minWidth={640}>
        <Table withTableBorder aria-label="Sources" fz="sm">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Source</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>Compared up to</Table.Th>
              <Table.Th>Read</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {psp ? (
              <Table.Tr>
                <Table.Td>PSP {psp.name ?? ''}</Table.Td>
                <Table.Td>
                  {words(psp.status)}
                  {psp.error ? (
                    <Text size="xs" c="red">
                      {psp.error}
                    </Text>
                  ) : null}
                </Table.Td>
                <Table.Td>
                  <DateTime value={psp.to ?? null} />
                </Table.Td>
                <Table.Td>{psp.lines !== undefined ? `${psp.lines} settlement lines` : '—'}</Table.Td>
              </Table.Tr>
            ) : null}
            {servers.map(([code, s]) => (
              <Table.Tr key={code}>
                <Table.Td>
                  {code} ({s.platform})
                </Table.Td>
                <Table.Td>
                  {words(s.status)}
                  {s.complete ? '' : ' · history incomplete'}
                  {s.note ? (
                    <Text size="xs" c="dimmed">
                      {s.note}
                    </Text>
                  ) : null}
                </Table.Td>
                <Table.Td>
                  <DateTime value={s.cutoffAt} />
                </Table.Td>
                <Table.Td>
                  {s.balances.read} of {s.balances.accounts} balances
                  {s.balances.failed ? `, ${s.balances.failed} failed` : ''}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      <Json value={run.sources} summary="Sources as recorded" />
    </Paper>
  );
}
