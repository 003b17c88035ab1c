/**
 * Back office: the dashboard. Deposits per day (count and credited amount per currency), operations by status, open
 * reconciliation breaks by class, trade-sync lag per server and open alerts, from one call
 * (`GET /api/backoffice/dashboard`) in the browser's time zone. Each section appears only when the staff member's
 * roles may read what it summarises (the API leaves the others out).
 */
import { Anchor, Group, SimpleGrid, Stack, Text } from '@mantine/core';
import { DateTime, Empty, ErrorAlert, Loading, PageTitle } from '../../ui/components.tsx';
import { useApi } from '../../ui/useApi.ts';
import {
  AlertsCard,
  BreaksChart,
  DepositCharts,
  Headlines,
  OperationsChart,
  SyncChart,
} from '../control/DashboardCharts.tsx';
import type { Dashboard } from '../control/types.ts';

const browserZone = () => {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
};

export function DashboardPage() {
  const { data, error, loading, reload } = useApi<Dashboard>('/api/backoffice/dashboard', { timeZone: browserZone() });
  const nothing = data && !data.deposits && !data.operations && !data.breaks && !data.sync && !data.alerts;
  return (
    <Stack gap="md">
      <PageTitle
        actions={
          <Anchor component="button" type="button" size="sm" onClick={reload}>
            Refresh
          </Anchor>
        }
      >
        Dashboard
      </PageTitle>
      <ErrorAlert error={error} onRetry={reload} />
      {loading && !data ? <Loading /> : null}
      {nothing ? <Empty>Your roles have no figures on the dashboard; the menu lists your screens.</Empty> : null}
      {data ? (
        <Stack gap="md" data-testid="dashboard">
          <Group gap={4}>
            <Text size="xs" c="dimmed">
              As of <DateTime value={data.generatedAt} />, days in {data.timeZone}.
            </Text>
          </Group>
          <Headlines d={data} />
          <SimpleGrid cols={{ base: 1, md: 2 }} spacing="md">
            {data.deposits ? <DepositCharts deposits={data.deposits} /> : null}
            {data.operations ? <OperationsChart operations={data.operations} /> : null}
            {data.breaks ? <BreaksChart breaks={data.breaks} /> : null}
            {data.sync ? <SyncChart sync={data.sync} /> : null}
            {data.alerts ? <AlertsCard alerts={data.alerts} /> : null}
          </SimpleGrid>
        </Stack>
      ) : null}
    </Stack>
  );
}
