/** Back office: Clients. */
import { Empty, PageTitle } from '../../ui/components.tsx';

export function ClientsPage() {
  return (
    <>
      <PageTitle>Clients</PageTitle>
      <Empty>Not built yet.</Empty>
    </>
  );
}
