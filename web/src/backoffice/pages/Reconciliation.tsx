/** Back office: Reconciliation. */
import { Empty, PageTitle } from '../../ui/components.tsx';

export function ReconciliationPage() {
  return (
    <>
      <PageTitle>Reconciliation</PageTitle>
      <Empty>Not built yet.</Empty>
    </>
  );
}
