/** Volume and commission over a period (UTC), per day or month, with charts, and the lines behind them. */
import { Anchor, Group, Stack } from '@mantine/core';
import { Link, useSearchParams } from 'react-router';
import { PageTitle } from '../ui/components.tsx';
import { CommissionChart, LinesPanel, PeriodPicker, presetPeriod } from './shared/CommissionViews.tsx';
import type { Period } from './shared/period.ts';

/** The period in the address (`?from=…&to=…`), this month by default: a view can be shared and reloaded. */
export function usePeriodParam(): [Period, (p: Period) => void, URLSearchParams, (p: URLSearchParams) => void] {
  const [params, setParams] = useSearchParams();
  const from = params.get('from');
  const to = params.get('to');
  const valid = from && to && !Number.isNaN(Date.parse(from)) && !Number.isNaN(Date.parse(to));
  const period = valid
    ? { from: new Date(from).toISOString(), to: new Date(to).toISOString() }
    : presetPeriod('this_month');
  const set = (p: Period) => {
    const next = new URLSearchParams(params);
    next.set('from', p.from);
    next.set('to', p.to);
    setParams(next, { replace: true });
  };
  return [period, set, params, (p) => setParams(p, { replace: true })];
}

export function CommissionScreen() {
  const [period, setPeriod, params, setParams] = usePeriodParam();
  const size = params.get('bucket') === 'month' ? 'month' : 'day';
  const statement = `/partner/statements/view?${new URLSearchParams({ from: period.from, to: period.to })}`;
  return (
    <Stack gap="lg">
      <PageTitle
        actions={
          <Anchor component={Link} to={statement}>
            Statement for this period
          </Anchor>
        }
      >
        Commission
      </PageTitle>
      <Group>
        <PeriodPicker key={`${period.from}|${period.to}`} value={period} onChange={setPeriod} />
      </Group>
      <CommissionChart
        path="/api/partner/commissions/chart"
        period={period}
        size={size}
        onSizeChange={(s) => {
          const next = new URLSearchParams(params);
          next.set('bucket', s);
          setParams(next);
        }}
      />
      <LinesPanel path="/api/partner/commissions/lines" period={period} />
    </Stack>
  );
}
