/**
 * Back office: the go-live page. The checklist (servers, live/demo separation, products, payments, sync, alerts,
 * staff, audit, rehearsal), each check with its status, what was found and the fix, problems first on request; a
 * re-run (and, for those who manage servers, a re-run that sends a test alert through every channel); the
 * full-workflow rehearsal: start one, watch its steps with their timings while it runs, and read past reports.
 */
import {
  Alert,
  Anchor,
  Badge,
  Breadcrumbs,
  Button,
  Group,
  List,
  Paper,
  SegmentedControl,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useEffect, useState } from 'react';
import { Link, Route, Routes, useNavigate, useParams } from 'react-router';
import { api } from '../../api.ts';
import { DateTime, Empty, ErrorAlert, Loading, Pager, PageTitle, StatusBadge } from '../../ui/components.tsx';
import { useAction, useApi } from '../../ui/useApi.ts';
import { useStaff } from '../auth.tsx';

type CheckStatus = 'pass' | 'warn' | 'fail';

interface Check {
  id: string;
  area: string;
  title: string;
  status: CheckStatus;
  detail: string;
  fix: string | null;
  durationMs: number;
}

interface Checklist {
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  status: CheckStatus;
  summary: Record<CheckStatus, number>;
  checks: Check[];
}

interface Step {
  id: string;
  title: string;
  status: 'pending' | 'running' | 'passed' | 'failed' | 'skipped';
  startedAt: string | null;
  durationMs: number | null;
  detail: string;
}

interface Rehearsal {
  id: string;
  status: 'running' | 'passed' | 'failed' | 'refused';
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  requestedBy: string;
  server: string | null;
  product: string | null;
  steps: Step[];
  leftBehind: string[];
  error: string | null;
}

const AREAS: Record<string, string> = {
  servers: 'Server access',
  separation: 'Live and demo separation',
  products: 'Products and groups',
  payments: 'Payment rules',
  sync: 'Trade sync',
  alerts: 'Alert channels',
  staff: 'Staff',
  audit: 'Audit trail',
  rehearsal: 'Full-workflow rehearsal',
};

const stepColors: Record<Step['status'], string> = {
  pending: 'gray',
  running: 'blue',
  passed: 'green',
  failed: 'red',
  skipped: 'gray',
};

const BASE = '/backoffice/go-live';

function seconds(ms: number | null): string {
  if (ms === null) return '—';
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function GoLivePage() {
  return (
    <Routes>
      <Route index element={<Overview />} />
      <Route path="rehearsals/:id" element={<RehearsalScreen />} />
    </Routes>
  );
}

function Overview() {
  const { can } = useStaff();
  const navigate = useNavigate();
  const checklist = useApi<Checklist>('/api/backoffice/golive/checks');
  const [tested, setTested] = useState<Checklist>();
  const testAlert = useAction(() => api.post<Checklist>('/api/backoffice/golive/checks', { sendTestAlert: true }));
  const start = useAction(() => api.post<Rehearsal>('/api/backoffice/golive/rehearsals', {}));
  const report = tested ?? checklist.data;

  function rerun() {
    setTested(undefined);
    checklist.reload();
  }
  async function rerunWithAlert() {
    const result = await testAlert.run();
    if (result) setTested(result);
  }
  async function rehearse() {
    const started = await start.run();
    if (started) {
      notifications.show({ color: 'blue', message: `Rehearsal ${started.id} started` });
      navigate(`${BASE}/rehearsals/${started.id}`);
    }
  }

  return (
    <Stack gap="md">
      <PageTitle
        actions={
          <>
            <Button variant="light" onClick={rerun} loading={checklist.loading && !testAlert.pending}>
              Re-run checks
            </Button>
            {can('servers.manage') ? (
              <>
                <Button variant="default" onClick={rerunWithAlert} loading={testAlert.pending}>
                  Re-run with a test alert
                </Button>
                <Button onClick={rehearse} loading={start.pending}>
                  Run rehearsal
                </Button>
              </>
            ) : null}
          </>
        }
      >
        Go-live checklist
      </PageTitle>
      <ErrorAlert error={start.error} />
      <ErrorAlert error={testAlert.error} />
      <ErrorAlert error={checklist.error} onRetry={rerun} />
      {!report && checklist.loading ? <Loading label="Checking servers, products, payments…" /> : null}
      {report ? <ChecklistView report={report} /> : null}
      <RehearsalHistory />
    </Stack>
  );
}

function ChecklistView({ report }: { report: Checklist }) {
  const [show, setShow] = useState<'all' | 'problems'>('all');
  const shown = report.checks.filter((c) => show === 'all' || c.status !== 'pass');
  const areas = [...new Set(shown.map((c) => c.area))];
  const verdict =
    report.status === 'fail'
      ? { color: 'red', title: `Not ready: ${report.summary.fail} check(s) fail` }
      : report.status === 'warn'
        ? { color: 'yellow', title: `Ready with ${report.summary.warn} warning(s)` }
        : { color: 'green', title: 'Every check passes' };
  return (
    <Stack gap="md" data-testid="checklist">
      <Alert color={verdict.color} title={verdict.title}>
        <Group gap="xs" wrap="wrap">
          <Badge color="green" variant="light">
            {report.summary.pass} passed
          </Badge>
          <Badge color="orange" variant="light">
            {report.summary.warn} warnings
          </Badge>
          <Badge color="red" variant="light">
            {report.summary.fail} failed
          </Badge>
          <Text size="sm" c="dimmed">
            checked <DateTime value={report.finishedAt} /> in {seconds(report.durationMs)}
          </Text>
        </Group>
      </Alert>
      <SegmentedControl
        aria-label="Which checks to show"
        value={show}
        onChange={(v) => setShow(v as 'all' | 'problems')}
        data={[
          { value: 'all', label: `All (${report.checks.length})` },
          { value: 'problems', label: `Problems (${report.summary.fail + report.summary.warn})` },
        ]}
        style={{ alignSelf: 'flex-start' }}
      />
      {shown.length === 0 ? <Empty>No problems: every check passes.</Empty> : null}
      {areas.map((area) => (
        <Paper key={area} withBorder p="md" component="section" aria-labelledby={`area-${area}`}>
          <Title order={3} size="h4" id={`area-${area}`} mb="sm">
            {AREAS[area] ?? area}
          </Title>
          <Stack gap="sm">
            {shown
              .filter((c) => c.area === area)
              .map((c) => (
                <Stack key={c.id} gap={2} data-check={c.id} data-status={c.status}>
                  <Group gap="xs" wrap="nowrap" align="flex-start">
                    <div style={{ flexShrink: 0 }}>
                      <StatusBadge status={c.status} />
                    </div>
                    <Text size="sm" fw={600} style={{ overflowWrap: 'anywhere' }}>
                      {c.title}
                    </Text>
                  </Group>
                  <Text size="sm" style={{ overflowWrap: 'anywhere' }}>
                    {c.detail}
                  </Text>
                  {c.fix ? (
                    <Text size="sm" c={c.status === 'fail' ? 'red.8' : 'orange.8'} style={{ overflowWrap: 'anywhere' }}>
                      <Text span fw={600} inherit>
                        Fix:{' '}
                      </Text>
                      {c.fix}
                    </Text>
                  ) : null}
                </Stack>
              ))}
          </Stack>
        </Paper>
      ))}
    </Stack>
  );
}

const PAGE = 10;

function RehearsalHistory() {
  const [page, setPage] = useState(0);
  const list = useApi<{ items: Rehearsal[]; total: number }>('/api/backoffice/golive/rehearsals', {
    limit: PAGE,
    offset: page * PAGE,
  });
  return (
    <Paper withBorder p="md" component="section" aria-labelledby="rehearsals-title">
      <Title order={3} size="h4" id="rehearsals-title" mb="xs">
        Rehearsal runs
      </Title>
      <Text size="sm" c="dimmed" mb="sm">
        One client's whole journey on the demo server and the PSP sandbox: register, KYC, account, deposit, trade,
        partner commission, withdrawal, and a deposit while the server times out; then cleaned up.
      </Text>
      <ErrorAlert error={list.error} onRetry={list.reload} />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data && list.data.items.length === 0 ? <Empty>No rehearsal has been run yet.</Empty> : null}
      {list.data && list.data.items.length > 0 ? (
        <Table.ScrollContainer minWidth={640}>
          <Table striped withTableBorder aria-label="Rehearsals">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Rehearsal</Table.Th>
                <Table.Th>Result</Table.Th>
                <Table.Th>Started</Table.Th>
                <Table.Th ta="right">Took</Table.Th>
                <Table.Th>Server</Table.Th>
                <Table.Th>By</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {list.data.items.map((r) => (
                <Table.Tr key={r.id}>
                  <Table.Td>
                    <Anchor component={Link} to={`${BASE}/rehearsals/${r.id}`} size="sm">
                      {r.id}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>
                    <Badge
                      color={r.status === 'passed' ? 'green' : r.status === 'running' ? 'blue' : 'red'}
                      variant="light"
                      style={{ minWidth: 'max-content' }}
                    >
                      {r.status}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    <DateTime value={r.startedAt} />
                  </Table.Td>
                  <Table.Td ta="right">{seconds(r.durationMs)}</Table.Td>
                  <Table.Td>{r.server ?? '—'}</Table.Td>
                  <Table.Td>{r.requestedBy}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
      <Pager page={page} hasNext={(page + 1) * PAGE < (list.data?.total ?? 0)} onChange={setPage} />
    </Paper>
  );
}

function RehearsalScreen() {
  const { id } = useParams();
  const report = useApi<Rehearsal>(`/api/backoffice/golive/rehearsals/${encodeURIComponent(id ?? '')}`);
  const running = report.data?.status === 'running';
  const { reload } = report;
  // Poll while it runs: each step reports as it finishes.
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(reload, 1000);
    return () => clearInterval(timer);
  }, [running, reload]);
  const r = report.data;
  return (
    <Stack gap="md">
      <Breadcrumbs>
        <Anchor component={Link} to={BASE} size="sm">
          Go-live checklist
        </Anchor>
        <Text size="sm">Rehearsal {id}</Text>
      </Breadcrumbs>
      <ErrorAlert error={report.error} onRetry={reload} />
      {!r && report.loading ? <Loading /> : null}
      {r ? (
        <>
          <PageTitle>Rehearsal {r.id}</PageTitle>
          <Alert
            color={r.status === 'passed' ? 'green' : r.status === 'running' ? 'blue' : 'red'}
            title={
              r.status === 'running'
                ? 'Running…'
                : r.status === 'passed'
                  ? `Passed in ${seconds(r.durationMs)}`
                  : r.status === 'refused'
                    ? 'Refused'
                    : `Failed after ${seconds(r.durationMs)}`
            }
            aria-live="polite"
          >
            <Text size="sm">
              {r.error ?? `On ${r.server ?? '—'} with product ${r.product ?? '—'}; started by ${r.requestedBy}`}
            </Text>
            <Text size="sm" c="dimmed">
              Started <DateTime value={r.startedAt} />
            </Text>
          </Alert>
          <Table.ScrollContainer minWidth={720}>
            <Table withTableBorder aria-label="Rehearsal steps" data-testid="rehearsal-steps">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Step</Table.Th>
                  <Table.Th>Status</Table.Th>
                  <Table.Th ta="right">Took</Table.Th>
                  <Table.Th>What happened</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {r.steps.map((s) => (
                  <Table.Tr key={s.id} data-step={s.id} data-status={s.status}>
                    <Table.Td>
                      <Text size="sm" fw={600}>
                        {s.title}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Badge color={stepColors[s.status]} variant="light" style={{ minWidth: 'max-content' }}>
                        {s.status}
                      </Badge>
                    </Table.Td>
                    <Table.Td ta="right" style={{ whiteSpace: 'nowrap' }}>
                      {seconds(s.durationMs)}
                    </Table.Td>
                    <Table.Td>
                      <Text size="sm" style={{ overflowWrap: 'anywhere' }}>
                        {s.detail || '—'}
                      </Text>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          {r.leftBehind.length > 0 ? (
            <Alert color="orange" title="Left behind: clean up by hand">
              <List size="sm">
                {r.leftBehind.map((l) => (
                  <List.Item key={l}>{l}</List.Item>
                ))}
              </List>
            </Alert>
          ) : r.status !== 'running' && r.status !== 'refused' ? (
            <Text size="sm" c="dimmed">
              Nothing was left to clean up by hand.
            </Text>
          ) : null}
        </>
      ) : null}
    </Stack>
  );
}
