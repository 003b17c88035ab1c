/** Back office: Dashboard. */
import { Empty, PageTitle } from '../../ui/components.tsx';

export function DashboardPage() {
  return (
    <>
      <PageTitle>Dashboard</PageTitle>
      <Empty>Not built yet.</Empty>
    </>
  );
}
