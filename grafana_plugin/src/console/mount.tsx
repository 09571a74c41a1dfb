import React from 'react';
import { createRoot } from 'react-dom/client';
import { injectGlobal } from '@emotion/css';
import { createTheme } from '@grafana/data';
import { ThemeContext } from '@grafana/ui';

/** Render `node` full-page inside Grafana's dark theme, as Grafana would. */
export function mount(node: React.ReactNode) {
  const theme = createTheme({ colors: { mode: 'dark' } });
  // Grafana's GlobalStyles load fonts from Grafana's server: the base styles alone, system fonts.
  injectGlobal({
    '*, *::before, *::after': { boxSizing: 'border-box' },
    body: {
      margin: 0,
      background: theme.colors.background.canvas,
      color: theme.colors.text.primary,
      fontFamily: theme.typography.fontFamily,
      fontSize: theme.typography.htmlFontSize,
      lineHeight: theme.typography.body.lineHeight,
    },
    a: { color: theme.colors.text.link, textDecoration: 'none' },
  });
  const el = document.getElementById('root')!;
  createRoot(el).render(<ThemeContext.Provider value={theme}>{node}</ThemeContext.Provider>);
}
