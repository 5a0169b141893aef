/** What every component needs to know about the terminal: colour or not. */
import { createContext, useContext } from 'react';

export interface UiSettings {
  color: boolean;
}

export const UiContext = createContext<UiSettings>({ color: true });
export const useUi = (): UiSettings => useContext(UiContext);
