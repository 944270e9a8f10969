/** What a person does on the page, as test steps; and what the page exposes for tests (window.qchat, window.qchatMap). */
import type { Locator, Page } from 'playwright-core';

export type Phase = 'join' | 'connecting' | 'registering' | 'ready' | 'down';

export interface PageState {
  phase: Phase;
  channel: string | null;
  nick: string | null;
  nbUsers: number | null;
  people: string[];
}

export interface DrawnItem {
  id: string;
  type: 'geojson' | 'bbox' | 'position';
  author: string;
  extent4326: [number, number, number, number];
  features: number;
}

export const state = (page: Page): Promise<PageState> => page.evaluate(() => (globalThis as any).qchat.state());
export const mapItems = (page: Page): Promise<DrawnItem[]> => page.evaluate(() => (globalThis as any).qchatMap.items());

export async function waitForPhase(page: Page, phase: Phase, timeout = 15_000): Promise<void> {
  await page.waitForFunction((p) => (globalThis as any).qchat?.state().phase === p, phase, { timeout });
}

/** Fills the join form and submits it; does not wait for the outcome. */
export async function submitJoin(page: Page, channel: string, nick: string, avatar?: string): Promise<void> {
  await page.locator('#join').waitFor({ state: 'visible' });
  await page.locator(`#channel-list input[value="${channel}"]`).check();
  await page.fill('#nickname', nick);
  if (avatar) await page.locator(`#avatar-list input[value="${avatar}"]`).check();
  await page.click('#join-button');
}

export async function join(page: Page, channel: string, nick: string, avatar?: string): Promise<void> {
  await submitJoin(page, channel, nick, avatar);
  await waitForPhase(page, 'ready');
}

export async function say(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

/** The conversation rows (messages people shared) whose text contains `text`. */
export function rows(page: Page, text: string): Locator {
  return page.locator('#messages li.msg', { hasText: text });
}
