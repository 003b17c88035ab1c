/** The partner's home: the referral link to share (with a copy button), what is owed, this month at a glance. */
import { Anchor, Button, CopyButton, Group, Paper, SimpleGrid, Stack, Text, TextInput, Title } from '@mantine/core';
import { Link } from 'react-router';
import { ErrorAlert, Loading, Money, PageTitle } from '../ui/components.tsx';
import { useApi } from '../ui/useApi.ts';
import { usePartner } from './auth.tsx';
import { totalsOf } from './shared/CommissionViews.tsx';
import { monthFrom, monthLabel, monthPeriod } from './shared/period.ts';
import type { Balance, Bucket } from './shared/types.ts';

export function ReferralLink() {
  const { me } = usePartner();
  return (
    <Paper withBorder p="md">
      <Stack gap="xs">
        <Title order={3}>Your referral link</Title>
        <Text size="sm" c="dimmed">
          Clients who register through this link are yours: their trading earns you commission.
        </Text>
        <Group gap="xs" wrap="nowrap" align="flex-end">
          <TextInput
            label="Referral link"
            value={me.referralLink}
            readOnly
            onFocus={(e) => e.currentTarget.select()}
            style={{ flex: 1, minWidth: 0 }}
            data-testid="referral-link"
          />
          <CopyButton value={me.referralLink} timeout={3000}>
            {({ copied, copy }) => (
              <Button color={copied ? 'teal' : 'indigo'} onClick={copy} aria-live="polite">
                {copied ? 'Copied' : 'Copy'}
              </Button>
            )}
          </CopyButton>
        </Group>
        <Group gap="xs">
          <Text size="sm">
            Referral code: <b data-testid="referral-code">{me.referralCode}</b>
          </Text>
          <CopyButton value={me.referralCode} timeout={3000}>
            {({ copied, copy }) => (
              <Button size="compact-xs" variant="subtle" onClick={copy} aria-label="Copy the referral code">
                {copied ? 'Copied' : 'Copy code'}
              </Button>
            )}
          </CopyButton>
        </Group>
      </Stack>
    </Paper>
  );
}

export function DashboardScreen() {
  const { me } = usePartner();
  const month = monthFrom(new Date(), 0);
  const period = monthPeriod(month);
  const balance = useApi<{ balances: Balance[] }>('/api/partner/commissions/balance');
  const chart = useApi<{ buckets: Bucket[] }>('/api/partner/commissions/chart', { ...period, bucket: 'month' });
  const clients = useApi<{ total: number }>('/api/partner/clients', { limit: 1 });
  const totals = chart.data ? totalsOf(chart.data.buckets) : [];

  return (
    <Stack gap="md">
      <PageTitle>Welcome, {me.name}</PageTitle>
      <ReferralLink />
      <SimpleGrid cols={{ base: 1, sm: 3 }} spacing="md">
        <Paper withBorder p="md">
          <Text size="sm" c="dimmed">
            Referred clients
          </Text>
          <ErrorAlert error={clients.error} onRetry={clients.reload} />
          {clients.data ? (
            <Text fw={700} size="xl" data-testid="clients-count">
              {clients.data.total}
            </Text>
          ) : clients.loading ? (
            <Loading />
          ) : null}
          <Anchor component={Link} to="/partner/clients" size="sm">
            See your clients
          </Anchor>
        </Paper>
        <Paper withBorder p="md">
          <Text size="sm" c="dimmed">
            Commission in {monthLabel(month)}
          </Text>
          <ErrorAlert error={chart.error} onRetry={chart.reload} />
          {chart.data ? (
            totals.length ? (
              totals.map((t) => (
                <Text fw={700} size="xl" key={t.currency}>
                  <Money minor={t.amountMinor} currency={t.currency} />
                </Text>
              ))
            ) : (
              <Text fw={700} size="xl">
                None yet
              </Text>
            )
          ) : chart.loading ? (
            <Loading />
          ) : null}
          <Anchor component={Link} to="/partner/commission" size="sm">
            Volume and commission
          </Anchor>
        </Paper>
        <Paper withBorder p="md">
          <Text size="sm" c="dimmed">
            Available to pay out
          </Text>
          <ErrorAlert error={balance.error} onRetry={balance.reload} />
          {balance.data ? (
            balance.data.balances.length ? (
              balance.data.balances.map((b) => (
                <Text fw={700} size="xl" key={b.currency} data-testid={`available-${b.currency}`}>
                  <Money minor={b.availableMinor ?? 0} currency={b.currency} />
                </Text>
              ))
            ) : (
              <Text fw={700} size="xl">
                Nothing yet
              </Text>
            )
          ) : balance.loading ? (
            <Loading />
          ) : null}
          <Anchor component={Link} to="/partner/payouts" size="sm">
            Ask for a payout
          </Anchor>
        </Paper>
      </SimpleGrid>
    </Stack>
  );
}
