/** Back office: Servers. */
import { Empty, PageTitle } from '../../ui/components.tsx';

export function ServersPage() {
  return (
    <>
      <PageTitle>Servers</PageTitle>
      <Empty>Not built yet.</Empty>
    </>
  );
}
