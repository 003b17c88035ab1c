/** Back office: Commission plans. */
import { Empty, PageTitle } from '../../ui/components.tsx';

export function CommissionPlansPage() {
  return (
    <>
      <PageTitle>Commission plans</PageTitle>
      <Empty>Not built yet.</Empty>
    </>
  );
}
