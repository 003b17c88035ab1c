import '@mantine/core/styles.css';
import '@mantine/notifications/styles.css';
import '@mantine/charts/styles.css';
import { createTheme, MantineProvider } from '@mantine/core';
import { Notifications } from '@mantine/notifications';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter, Route, Routes } from 'react-router';
import { BackofficeApp } from './backoffice/BackofficeApp.tsx';
import { PartnerApp } from './partner/PartnerApp.tsx';
import { PortalApp } from './portal/PortalApp.tsx';
import { ErrorBoundary } from './ui/components.tsx';

const theme = createTheme({ primaryColor: 'indigo', defaultRadius: 'md' });

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <MantineProvider theme={theme} defaultColorScheme="light">
      <Notifications position="top-right" />
      <ErrorBoundary>
        <BrowserRouter>
          <Routes>
            <Route path="/backoffice/*" element={<BackofficeApp />} />
            <Route path="/partner/*" element={<PartnerApp />} />
            <Route path="/*" element={<PortalApp />} />
          </Routes>
        </BrowserRouter>
      </ErrorBoundary>
    </MantineProvider>
  </StrictMode>,
);
