/** Back office: Money movements. */
import { Empty, PageTitle } from '../../ui/components.tsx';

export function MovementsPage() {
  return (
    <>
      <PageTitle>Money movements</PageTitle>
      <Empty>Not built yet.</Empty>
    </>
  );
}
