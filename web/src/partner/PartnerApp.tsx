/** Partner portal: the routes of this area (paths relative to where main.tsx mounts it). */
import { Container, Title } from '@mantine/core';

export function PartnerApp() {
  return (
    <Container py="xl">
      <Title order={1}>Partner portal</Title>
    </Container>
  );
}
