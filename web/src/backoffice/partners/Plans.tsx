/**
 * Commission plans: the list (with the calculation's batches and a "calculate now"), a new plan with its first
 * version, one plan with every version of its rules (never changed once written), and a new version in force from a
 * date (never before trades already commissioned: the API says up to when).
 */
import { Anchor, Button, Group, Paper, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { type FormEvent, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { api } from '../../api.ts';
import { DateTime, Empty, ErrorAlert, Loading, PageTitle, StatusBadge } from '../../ui/components.tsx';
import { formatMoney } from '../../ui/money.ts';
import { useAction, useApi } from '../../ui/useApi.ts';
import { useStaff } from '../auth.tsx';
import { draftFromRules, emptyDraft, RulesEditor, RulesView, rulesFromDraft } from './RulesEditor.tsx';
import type { Plan, PlanListItem, PlanVersion } from './types.ts';
import { toUtcInput, utcInput, utcText } from './when.ts';

interface Batch {
  id: number;
  started_at: string;
  finished_at: string | null;
  lines: number;
  reversals: number;
  totals: Record<string, number | string>;
  triggered_by: string;
}

function Calculation() {
  const { can } = useStaff();
  const batches = useApi<{ items: Batch[] }>('/api/backoffice/commission-batches', { limit: 10 });
  const calculate = useAction(() =>
    api.post<{ result: { lines: number; reversals: number } }>('/api/backoffice/commissions/calculate'),
  );
  return (
    <Paper withBorder p="md">
      <Stack gap="sm">
        <Group justify="space-between">
          <Title order={3}>Calculation</Title>
          {can('commissions.manage') ? (
            <Button
              variant="light"
              loading={calculate.pending}
              onClick={async () => {
                const r = await calculate.run();
                if (r) {
                  notifications.show({
                    color: 'teal',
                    message: `${r.result.lines} new lines, ${r.result.reversals} reversals.`,
                  });
                  batches.reload();
                }
              }}
            >
              Calculate now
            </Button>
          ) : null}
        </Group>
        <Text size="xs" c="dimmed">
          The worker computes the commission of newly closed trades every two minutes; each run that finds any is a
          batch.
        </Text>
        <ErrorAlert error={calculate.error ?? batches.error} onRetry={batches.reload} />
        {batches.data && batches.data.items.length === 0 ? <Empty>No batches yet.</Empty> : null}
        {batches.data && batches.data.items.length > 0 ? (
          <Table.ScrollContainer minWidth={560}>
            <Table striped withTableBorder aria-label="Recent calculation batches">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Batch</Table.Th>
                  <Table.Th>Started</Table.Th>
                  <Table.Th ta="right">Lines</Table.Th>
                  <Table.Th ta="right">Reversals</Table.Th>
                  <Table.Th>Total</Table.Th>
                  <Table.Th>By</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {batches.data.items.map((b) => (
                  <Table.Tr key={b.id}>
                    <Table.Td>{b.id}</Table.Td>
                    <Table.Td>
                      <DateTime value={b.started_at} />
                    </Table.Td>
                    <Table.Td ta="right">{b.lines}</Table.Td>
                    <Table.Td ta="right">{b.reversals}</Table.Td>
                    <Table.Td>
                      {Object.entries(b.totals ?? {})
                        .map(([c, v]) => formatMoney(String(v), c))
                        .join(', ') || '—'}
                    </Table.Td>
                    <Table.Td>{b.triggered_by}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        ) : null}
      </Stack>
    </Paper>
  );
}

export function PlanList() {
  const { can } = useStaff();
  const { data, error, loading, reload } = useApi<{ items: PlanListItem[] }>('/api/backoffice/commission-plans');
  return (
    <Stack gap="md">
      <PageTitle
        actions={
          can('commissions.manage') ? (
            <Button component={Link} to="/backoffice/commission-plans/new">
              New plan
            </Button>
          ) : null
        }
      >
        Commission plans
      </PageTitle>
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {data && data.items.length === 0 ? <Empty>No plans yet.</Empty> : null}
      {data && data.items.length > 0 ? (
        <Table.ScrollContainer minWidth={640}>
          <Table striped highlightOnHover withTableBorder aria-label="Commission plans">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Code</Table.Th>
                <Table.Th>Name</Table.Th>
                <Table.Th>Currency</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th ta="right">Versions</Table.Th>
                <Table.Th>Latest version in force from</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.items.map((p) => (
                <Table.Tr key={p.id}>
                  <Table.Td>
                    <Anchor component={Link} to={`/backoffice/commission-plans/${p.id}`}>
                      {p.code}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>{p.name}</Table.Td>
                  <Table.Td>{p.currency}</Table.Td>
                  <Table.Td>
                    <StatusBadge status={p.status} />
                  </Table.Td>
                  <Table.Td ta="right">{p.versions}</Table.Td>
                  <Table.Td>{p.latestVersion ? utcText(p.latestVersion.effectiveFrom) : '—'}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
      {can('commissions.read') ? <Calculation /> : null}
    </Stack>
  );
}

/** "In force from" (UTC, empty = now) and a note: what a new plan and a new version both ask for. */
function VersionFields({
  when,
  setWhen,
  whenError,
  note,
  setNote,
}: {
  when: string;
  setWhen: (v: string) => void;
  whenError?: string | undefined;
  note: string;
  setNote: (v: string) => void;
}) {
  return (
    <Group grow align="flex-start" wrap="wrap">
      <TextInput
        label="In force from (UTC)"
        description="Empty: from now. Never before trades already commissioned under the plan."
        type="datetime-local"
        value={when}
        onChange={(e) => setWhen(e.currentTarget.value)}
        error={whenError}
      />
      <TextInput
        label="Note (optional)"
        value={note}
        onChange={(e) => setNote(e.currentTarget.value)}
        maxLength={500}
      />
    </Group>
  );
}

function effectiveFrom(when: string): { value?: string } | { error: string } {
  if (!when) return {};
  const at = utcInput(when);
  return 'error' in at ? at : { value: at.iso };
}

export function NewPlan() {
  const navigate = useNavigate();
  const [code, setCode] = useState('');
  const [name, setName] = useState('');
  const [currency, setCurrency] = useState('USD');
  const [when, setWhen] = useState('');
  const [whenError, setWhenError] = useState<string>();
  const [note, setNote] = useState('');
  const [draft, setDraft] = useState(emptyDraft);
  const action = useAction((body: unknown) => api.post<{ plan: Plan }>('/api/backoffice/commission-plans', body));

  async function submit(event: FormEvent) {
    event.preventDefault();
    const from = effectiveFrom(when);
    if ('error' in from) {
      setWhenError(from.error);
      return;
    }
    setWhenError(undefined);
    const result = await action.run({
      code: code.trim(),
      name: name.trim(),
      currency: currency.trim().toUpperCase(),
      rules: rulesFromDraft(draft),
      ...(from.value ? { effectiveFrom: from.value } : {}),
      ...(note.trim() ? { note: note.trim() } : {}),
    });
    if (result) {
      notifications.show({ color: 'teal', message: `Plan ${result.plan.code} created.` });
      navigate(`/backoffice/commission-plans/${result.plan.id}`);
    }
  }

  return (
    <form onSubmit={submit} aria-label="New commission plan">
      <Stack gap="md">
        <Anchor component={Link} to="/backoffice/commission-plans" size="sm">
          ← Commission plans
        </Anchor>
        <PageTitle>New commission plan</PageTitle>
        <Group grow align="flex-start" wrap="wrap">
          <TextInput
            label="Code"
            description="2 to 40 lower-case letters, digits, - and _"
            value={code}
            onChange={(e) => setCode(e.currentTarget.value)}
            required
          />
          <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} required />
          <TextInput
            label="Currency"
            description="Amounts are paid in it"
            value={currency}
            onChange={(e) => setCurrency(e.currentTarget.value)}
            maxLength={3}
            required
          />
        </Group>
        <VersionFields when={when} setWhen={setWhen} whenError={whenError} note={note} setNote={setNote} />
        <RulesEditor draft={draft} onChange={setDraft} currency={currency.toUpperCase() || 'USD'} />
        <ErrorAlert error={action.error} />
        <Group>
          <Button type="submit" loading={action.pending}>
            Create plan
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

function NewVersion({ plan, latest, onDone }: { plan: Plan; latest: PlanVersion | undefined; onDone: () => void }) {
  const [draft, setDraft] = useState(() => (latest ? draftFromRules(latest.rules) : emptyDraft()));
  const [when, setWhen] = useState(() => toUtcInput(new Date(Date.now() + 3_600_000)));
  const [whenError, setWhenError] = useState<string>();
  const [note, setNote] = useState('');
  const action = useAction((body: unknown) =>
    api.post<{ version: PlanVersion }>(`/api/backoffice/commission-plans/${plan.id}/versions`, body),
  );

  async function submit(event: FormEvent) {
    event.preventDefault();
    const from = effectiveFrom(when);
    if ('error' in from) {
      setWhenError(from.error);
      return;
    }
    setWhenError(undefined);
    const result = await action.run({
      rules: rulesFromDraft(draft),
      ...(from.value ? { effectiveFrom: from.value } : {}),
      ...(note.trim() ? { note: note.trim() } : {}),
    });
    if (result) {
      notifications.show({
        color: 'teal',
        message: `Version ${result.version.version} in force from ${utcText(new Date(result.version.effectiveFrom).toISOString())}.`,
      });
      onDone();
    }
  }

  return (
    <Paper withBorder p="md">
      <form onSubmit={submit} aria-label="New version of the rules">
        <Stack gap="md">
          <Title order={3}>New version</Title>
          <Text size="sm" c="dimmed">
            Starts from the latest version's rules. Trades closed before it takes effect keep the version they were
            commissioned with.
          </Text>
          <VersionFields when={when} setWhen={setWhen} whenError={whenError} note={note} setNote={setNote} />
          <RulesEditor draft={draft} onChange={setDraft} currency={plan.currency} />
          <ErrorAlert error={action.error} />
          <Group>
            <Button type="submit" loading={action.pending}>
              Save version
            </Button>
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}

function RenamePlan({ plan, onDone }: { plan: Plan; onDone: () => void }) {
  const [name, setName] = useState(plan.name);
  const action = useAction((body: unknown) => api.patch(`/api/backoffice/commission-plans/${plan.id}`, body));
  return (
    <Stack gap="xs">
      <Group align="flex-end" wrap="wrap">
        <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} w={280} maw="100%" />
        <Button
          variant="default"
          loading={action.pending}
          disabled={name.trim() === plan.name || !name.trim()}
          onClick={async () => {
            if (await action.run({ name: name.trim() })) onDone();
          }}
        >
          Rename
        </Button>
        <Button
          variant="light"
          color={plan.status === 'active' ? 'orange' : 'teal'}
          loading={action.pending}
          onClick={async () => {
            if (await action.run({ status: plan.status === 'active' ? 'archived' : 'active' })) onDone();
          }}
        >
          {plan.status === 'active' ? 'Archive' : 'Reactivate'}
        </Button>
      </Group>
      <ErrorAlert error={action.error} />
    </Stack>
  );
}

export function PlanDetail() {
  const { id = '' } = useParams();
  const { can } = useStaff();
  const { data, error, loading, reload } = useApi<{ plan: Plan; versions: PlanVersion[] }>(
    `/api/backoffice/commission-plans/${id}`,
  );
  const [adding, setAdding] = useState(false);
  if (error) return <ErrorAlert error={error} onRetry={reload} />;
  if (loading && !data) return <Loading />;
  if (!data) return null;
  const { plan, versions } = data;
  const newestFirst = [...versions].reverse();
  const now = Date.now();
  const inForce = newestFirst.find((v) => new Date(v.effectiveFrom).getTime() <= now);
  const manage = can('commissions.manage');
  return (
    <Stack gap="md">
      <Anchor component={Link} to="/backoffice/commission-plans" size="sm">
        ← Commission plans
      </Anchor>
      <PageTitle
        actions={
          manage && plan.status === 'active' && !adding ? (
            <Button onClick={() => setAdding(true)}>New version</Button>
          ) : null
        }
      >
        <Group gap="sm" component="span">
          <span>
            {plan.code} — {plan.name}
          </span>
          <StatusBadge status={plan.status} />
        </Group>
      </PageTitle>
      <Text size="sm">
        Paid in {plan.currency}; created <DateTime value={plan.createdAt} />.
      </Text>
      {manage ? <RenamePlan key={plan.updatedAt} plan={plan} onDone={reload} /> : null}
      {adding ? (
        <NewVersion
          plan={plan}
          latest={versions.at(-1)}
          onDone={() => {
            setAdding(false);
            reload();
          }}
        />
      ) : null}
      <Title order={3}>Versions</Title>
      {newestFirst.map((v) => (
        <Paper withBorder p="md" key={v.id} data-testid={`plan-version-${v.version}`}>
          <Stack gap="xs">
            <Group gap="sm">
              <Title order={4}>Version {v.version}</Title>
              {v.id === inForce?.id ? <StatusBadge status="active" /> : null}
              {new Date(v.effectiveFrom).getTime() > now ? <StatusBadge status="pending" /> : null}
            </Group>
            <Text size="sm">
              In force from {utcText(new Date(v.effectiveFrom).toISOString())}
              {v.note ? ` — ${v.note}` : ''}
            </Text>
            <RulesView rules={v.rules} currency={plan.currency} />
          </Stack>
        </Paper>
      ))}
    </Stack>
  );
}
