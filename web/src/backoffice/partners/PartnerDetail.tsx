/**
 * One partner: details and IB tree (master chain above, sub-IBs below), referred clients, server logins, plan
 * assignments, commission (chart, statement, lines, recomputation) and payouts; each a tab with its own address.
 */
import { Anchor, Badge, Button, Code, CopyButton, Group, Stack, Tabs, Text } from '@mantine/core';
import { Link, useNavigate, useParams } from 'react-router';
import { ErrorAlert, Loading, PageTitle, StatusBadge } from '../../ui/components.tsx';
import { useApi } from '../../ui/useApi.ts';
import { useStaff } from '../auth.tsx';
import { PartnerClients } from './PartnerClients.tsx';
import { PartnerCommission } from './PartnerCommission.tsx';
import { PartnerOverview } from './PartnerOverview.tsx';
import { PartnerPayouts } from './PartnerPayouts.tsx';
import { PartnerPlan } from './PartnerPlan.tsx';
import { PartnerServerLogins } from './PartnerServerLogins.tsx';
import type { PartnerView } from './types.ts';

export interface PartnerData {
  partner: PartnerView;
  referralLink: string;
}

export function PartnerDetail() {
  const { id = '', tab = 'overview' } = useParams();
  const navigate = useNavigate();
  const { can } = useStaff();
  const { data, error, loading, reload } = useApi<PartnerData>(`/api/backoffice/partners/${id}`);
  const commissions = can('commissions.read');
  const tabs = [
    { value: 'overview', label: 'Overview', show: true },
    { value: 'clients', label: 'Clients', show: true },
    { value: 'server-logins', label: 'Server logins', show: commissions },
    { value: 'plan', label: 'Plan', show: commissions },
    { value: 'commission', label: 'Commission', show: commissions },
    { value: 'payouts', label: 'Payouts', show: commissions },
  ].filter((t) => t.show);
  const current = tabs.some((t) => t.value === tab) ? tab : 'overview';

  if (error) return <ErrorAlert error={error} onRetry={reload} />;
  if (loading && !data) return <Loading />;
  if (!data) return null;
  const { partner } = data;
  return (
    <Stack gap="md">
      <Anchor component={Link} to="/backoffice/partners" size="sm">
        ← Partners
      </Anchor>
      <PageTitle>
        <Group gap="sm" component="span">
          <span data-testid="partner-name">{partner.name}</span>
          <StatusBadge status={partner.status} />
          {partner.parentId ? (
            <Badge variant="outline" color="gray">
              sub-IB
            </Badge>
          ) : null}
        </Group>
      </PageTitle>
      <Group gap="md" wrap="wrap">
        <Text size="sm">{partner.email}</Text>
        <Text size="sm">
          Code <Code>{partner.referralCode}</Code>
        </Text>
        <Group gap={4} wrap="nowrap">
          <Text size="sm" style={{ wordBreak: 'break-all' }}>
            {data.referralLink}
          </Text>
          <CopyButton value={data.referralLink}>
            {({ copied, copy }) => (
              <Button size="compact-xs" variant="subtle" onClick={copy}>
                {copied ? 'Copied' : 'Copy link'}
              </Button>
            )}
          </CopyButton>
        </Group>
      </Group>
      <Tabs
        value={current}
        onChange={(value) => navigate(`/backoffice/partners/${id}${value === 'overview' ? '' : `/${value}`}`)}
        keepMounted={false}
      >
        <Tabs.List>
          {tabs.map((t) => (
            <Tabs.Tab key={t.value} value={t.value}>
              {t.label}
            </Tabs.Tab>
          ))}
        </Tabs.List>
        <Tabs.Panel value="overview" pt="md">
          <PartnerOverview data={data} onChanged={reload} />
        </Tabs.Panel>
        <Tabs.Panel value="clients" pt="md">
          <PartnerClients partnerId={partner.id} />
        </Tabs.Panel>
        {commissions ? (
          <>
            <Tabs.Panel value="server-logins" pt="md">
              <PartnerServerLogins partnerId={partner.id} />
            </Tabs.Panel>
            <Tabs.Panel value="plan" pt="md">
              <PartnerPlan partnerId={partner.id} />
            </Tabs.Panel>
            <Tabs.Panel value="commission" pt="md">
              <PartnerCommission partnerId={partner.id} />
            </Tabs.Panel>
            <Tabs.Panel value="payouts" pt="md">
              <PartnerPayouts partnerId={partner.id} />
            </Tabs.Panel>
          </>
        ) : null}
      </Tabs>
    </Stack>
  );
}
