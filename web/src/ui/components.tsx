/** Small building blocks every screen shares: errors as the API words them, loading, empty lists, paging, dates. */
import { Alert, Badge, Button, Center, Group, Loader, Stack, Text, Title } from '@mantine/core';
import { Component, type ReactNode } from 'react';
import { formatMoney } from './money.ts';

export function ErrorAlert({ error, onRetry }: { error: string | undefined; onRetry?: () => void }) {
  if (!error) return null;
  return (
    <Alert color="red" title="Something went wrong" role="alert">
      <Stack gap="xs">
        <Text size="sm">{error}</Text>
        {onRetry ? (
          <Group>
            <Button size="xs" variant="light" color="red" onClick={onRetry}>
              Try again
            </Button>
          </Group>
        ) : null}
      </Stack>
    </Alert>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <Center py="xl" aria-live="polite">
      <Group gap="sm">
        <Loader size="sm" />
        <Text size="sm" c="dimmed">
          {label}
        </Text>
      </Group>
    </Center>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return (
    <Text c="dimmed" size="sm" py="md" ta="center">
      {children}
    </Text>
  );
}

export function PageTitle({ children, actions }: { children: ReactNode; actions?: ReactNode }) {
  return (
    <Group justify="space-between" mb="md" wrap="wrap">
      <Title order={2}>{children}</Title>
      {actions ? <Group gap="sm">{actions}</Group> : null}
    </Group>
  );
}

/** Previous/next paging for offset lists (`page` from 0) and keyset lists (`hasNext` from the API's `next`). */
export function Pager({
  page,
  hasNext,
  onChange,
}: {
  page: number;
  hasNext: boolean;
  onChange: (page: number) => void;
}) {
  if (page === 0 && !hasNext) return null;
  return (
    <Group justify="flex-end" mt="sm" gap="xs">
      <Button size="xs" variant="default" disabled={page === 0} onClick={() => onChange(page - 1)}>
        Previous
      </Button>
      <Text size="sm" aria-live="polite">
        Page {page + 1}
      </Text>
      <Button size="xs" variant="default" disabled={!hasNext} onClick={() => onChange(page + 1)}>
        Next
      </Button>
    </Group>
  );
}

const statusColors: Record<string, string> = {
  posted: 'green',
  succeeded: 'green',
  approved: 'green',
  paid: 'green',
  active: 'green',
  ok: 'green',
  pass: 'green',
  resolved: 'green',
  open: 'blue',
  pending: 'yellow',
  requested: 'yellow',
  awaiting_second_approval: 'yellow',
  pending_review: 'yellow',
  pending_approval: 'yellow',
  submitted: 'yellow',
  queued: 'yellow',
  in_progress: 'yellow',
  unknown: 'orange',
  warn: 'orange',
  needs_review: 'orange',
  acknowledged: 'grape',
  failed: 'red',
  fail: 'red',
  rejected: 'red',
  declined: 'red',
  cancelled: 'gray',
  expired: 'gray',
};

export function StatusBadge({ status }: { status: string | null | undefined }) {
  if (!status) return null;
  return (
    <Badge color={statusColors[status] ?? 'gray'} variant="light">
      {status.replaceAll('_', ' ')}
    </Badge>
  );
}

export function Money({ minor, currency }: { minor: number | string | bigint | null | undefined; currency: string }) {
  if (minor === null || minor === undefined) return <>—</>;
  return (
    <span style={{ fontVariantNumeric: 'tabular-nums', whiteSpace: 'nowrap' }}>{formatMoney(minor, currency)}</span>
  );
}

export function DateTime({ value }: { value: string | Date | null | undefined }) {
  if (!value) return <>—</>;
  const date = typeof value === 'string' ? new Date(value) : value;
  return (
    <time dateTime={date.toISOString()} style={{ whiteSpace: 'nowrap' }}>
      {date.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' })}
    </time>
  );
}

/** Keeps a failure in one screen from blanking the whole application. */
export class ErrorBoundary extends Component<{ children: ReactNode }, { error: Error | undefined }> {
  override state: { error: Error | undefined } = { error: undefined };
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  override render() {
    if (this.state.error) {
      return (
        <ErrorAlert
          error={`This screen failed to show: ${this.state.error.message}`}
          onRetry={() => this.setState({ error: undefined })}
        />
      );
    }
    return this.props.children;
  }
}
