// Hetzner Cloud server types for the preset tiers, with list prices as dated data (not live): what a new
// server costs at the date below, where the figures come from, and what is not known about them.
import type { PresetTierName } from './settings';

export interface ServerType {
  readonly name: string;
  readonly cores: number;
  readonly ramGiB: number;
  readonly diskGB: number;
  /**
   * Monthly list price in EUR of a server ordered (or rescaled) on HETZNER_PRICES.asOf or later: excluding VAT,
   * EU locations (fsn1, nbg1, hel1), without the primary IPv4 (HETZNER_PRIMARY_IPV4_EUR_PER_MONTH).
   */
  readonly eurPerMonth: number;
}

export interface PriceList {
  /** The date the prices below took effect. */
  readonly asOf: string;
  /** Which servers pay them. */
  readonly appliesTo: string;
  /** Where the figures come from. */
  readonly source: string;
  /** What could not be confirmed: printed with every price so nobody budgets on it as today's. */
  readonly caveat: string;
}

/**
 * Hetzner changed cloud prices on 2026-04-01 (every server, existing ones included) and again on 2026-06-15 for
 * new orders and rescales only; servers ordered before 2026-06-15 keep their 2026-04-01 price. The figures are
 * the 2026-06-15 new-order prices from Hetzner's price-adjustment page
 * (docs.hetzner.com/general/infrastructure-and-availability/price-adjustment/), which could not be read from
 * here: they are taken from public transcriptions of it. CCX23 and CCX33 agree in two of them (one quoting the
 * page, net: 85.99 and 138.49; the mixxor/eu-cloud-prices list of 2026-08-17, gross with 19% VAT and IPv4:
 * 102.92 and 165.40). CCX43 is in that list only (329.02 gross → 275.99 net without IPv4). The volume price is
 * the one from 2026-04-01 (0.0572, Hetzner's pricing API on 2026-05-27 as quoted in devantler-tech/platform
 * and the same list), which the 2026-06-15 change did not touch (Hetzner's notice: IPs, volumes and
 * snapshots are not affected); the IPv4 price is the gap between the page's prices and the list's.
 */
export const HETZNER_PRICES: PriceList = {
  asOf: '2026-06-15',
  appliesTo: 'new servers and rescales',
  source:
    "Hetzner's price-adjustment page (docs.hetzner.com/general/infrastructure-and-availability/price-adjustment/), via public transcriptions",
  caveat:
    'Hetzner changed cloud prices on 2026-04-01 and again for new orders and rescales on 2026-06-15 ' +
    '(servers ordered before then keep their 2026-04-01 price); these figures are not confirmed as ' +
    "today's prices (not read from hetzner.com): check hetzner.com/cloud before you budget",
};

/** Date of the prices below (HETZNER_PRICES.asOf). */
export const HETZNER_PRICES_AS_OF = HETZNER_PRICES.asOf;

/** Dedicated-vCPU (CCX) types: shared vCPUs are a poor fit for sustained COPY load. */
export const HETZNER_SERVER_TYPES: Readonly<Record<PresetTierName, ServerType>> = {
  minimum: { name: 'ccx23', cores: 4, ramGiB: 16, diskGB: 160, eurPerMonth: 85.99 },
  recommended: { name: 'ccx33', cores: 8, ramGiB: 32, diskGB: 240, eurPerMonth: 138.49 },
  powerhouse: { name: 'ccx43', cores: 16, ramGiB: 64, diskGB: 360, eurPerMonth: 275.99 },
};

/** The server's primary IPv4 (the Hetzner stacks enable one), EUR per month excl. VAT. */
export const HETZNER_PRIMARY_IPV4_EUR_PER_MONTH = 0.5;

/** Volume price per GB-month (EUR, excl. VAT), in effect since 2026-04-01 and unchanged on 2026-06-15. */
export const HETZNER_VOLUME_EUR_PER_GB_MONTH = 0.0572;
