/** Back office: Alerts. */
import { Empty, PageTitle } from '../../ui/components.tsx';

export function AlertsPage() {
  return (
    <>
      <PageTitle>Alerts</PageTitle>
      <Empty>Not built yet.</Empty>
    </>
  );
}
