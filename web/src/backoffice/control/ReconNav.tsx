/** The reconciliation screen's sections: runs, breaks, write-offs waiting for a second person. */
import { Tabs } from '@mantine/core';
import { useLocation, useNavigate } from 'react-router';

const sections = [
  { value: 'runs', label: 'Runs', to: '/backoffice/reconciliation' },
  { value: 'breaks', label: 'Breaks', to: '/backoffice/reconciliation/breaks?status=open' },
  { value: 'write-offs', label: 'Write-offs to approve', to: '/backoffice/reconciliation/write-offs' },
];

export function ReconNav() {
  const location = useLocation();
  const navigate = useNavigate();
  const current = location.pathname.includes('/reconciliation/breaks')
    ? 'breaks'
    : location.pathname.includes('/reconciliation/write-offs')
      ? 'write-offs'
      : 'runs';
  return (
    <Tabs value={current} onChange={(v) => navigate(sections.find((s) => s.value === v)?.to ?? sections[0]!.to)}>
      <Tabs.List aria-label="Reconciliation sections">
        {sections.map((s) => (
          <Tabs.Tab key={s.value} value={s.value}>
            {s.label}
          </Tabs.Tab>
        ))}
      </Tabs.List>
    </Tabs>
  );
}
