/** Back office: Operations. */
import { Empty, PageTitle } from '../../ui/components.tsx';

export function OperationsPage() {
  return (
    <>
      <PageTitle>Operations</PageTitle>
      <Empty>Not built yet.</Empty>
    </>
  );
}
