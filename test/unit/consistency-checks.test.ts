// The consistency checks' rules on their own (the capture tests run them on real captures):
// the claimed day in a time zone, tolerances, pages' own dates, EXIF time zones and distances.
import { describe, expect, it } from 'vitest';
import {
  type ClaimDate,
  capturedBeforeCheck,
  claimDateCheck,
  datedFact,
  distanceMeters,
  locationCheck,
} from '../../src/capture/consistency-checks.ts';

const post = (at: string) => ({ name: 'postedAt' as const, evidenceId: 'e1', at });
const claim = (c: Partial<ClaimDate>): ClaimDate => ({
  claimId: 'c1',
  claimedAt: '2024-12-17T00:00:00.000Z',
  precision: 'date',
  timeZone: null,
  ...c,
});

describe('claimDateCheck', () => {
  it('a date: the same day in UTC, or in the claimant’s zone', () => {
    expect(claimDateCheck(claim({}), post('2024-12-17T23:59:59.000Z')).passed).toBe(true);
    expect(claimDateCheck(claim({}), post('2024-12-18T00:00:00.000Z')).passed).toBe(false);
    // 23:30 UTC on the 17th is the 18th in Kyiv (UTC+2).
    const kyiv = claim({ claimedAt: '2024-12-18T00:00:00.000Z', timeZone: 'Europe/Kyiv' });
    expect(claimDateCheck(kyiv, post('2024-12-17T23:30:00.000Z'))).toEqual({
      name: 'postedAt',
      expected: { claimId: 'c1', claimedAt: '2024-12-18', timeZone: 'Europe/Kyiv' },
      observed: '2024-12-17T23:30:00.000Z',
      passed: true,
    });
  });

  it('a date-time: its day in the zone; with a tolerance, hours either way', () => {
    const at = claim({ claimedAt: '2024-12-17T08:00:00.000Z', precision: 'datetime' });
    expect(claimDateCheck(at, post('2024-12-17T22:00:00.000Z')).passed).toBe(true);
    expect(claimDateCheck({ ...at, toleranceHours: 6 }, post('2024-12-17T22:00:00.000Z')).passed).toBe(false);
    expect(claimDateCheck({ ...at, toleranceHours: 6 }, post('2024-12-17T02:00:00.000Z')).passed).toBe(true);
    expect(claimDateCheck({ ...at, toleranceHours: 6 }, post('2024-12-17T02:00:00.000Z')).expected).toEqual({
      claimId: 'c1',
      claimedAt: '2024-12-17T08:00:00.000Z',
      timeZone: 'UTC',
      toleranceHours: 6,
    });
  });

  it('a date with a tolerance widens the day by it; an unreadable date fails with it shown', () => {
    expect(claimDateCheck(claim({ toleranceHours: 12 }), post('2024-12-18T11:00:00.000Z')).passed).toBe(true);
    expect(claimDateCheck(claim({ toleranceHours: 12 }), post('2024-12-18T13:00:00.000Z')).passed).toBe(
      false,
    );
    expect(claimDateCheck(claim({}), post('last Tuesday'))).toMatchObject({
      observed: 'last Tuesday',
      passed: false,
    });
  });
});

describe('datedFact', () => {
  it('a post record’s createdAt; a page’s published_time, else JSON-LD datePublished (in @graph too)', () => {
    expect(
      datedFact({ id: 'p', kind: 'post_metadata', metadata: { createdAt: '2024-12-17T18:31:00.000Z' } }),
    ).toEqual({ name: 'postedAt', evidenceId: 'p', at: '2024-12-17T18:31:00.000Z' });
    const page = (metadata: unknown) => datedFact({ id: 'g', kind: 'page', metadata });
    expect(page({ publishedTime: '2024-12-17T19:05:00+00:00', jsonLd: [] })?.at).toBe(
      '2024-12-17T19:05:00+00:00',
    );
    expect(
      page({
        publishedTime: null,
        jsonLd: [{ '@graph': [{ '@type': 'NewsArticle', datePublished: '2024-12-16' }] }],
      })?.at,
    ).toBe('2024-12-16');
    expect(page({ publishedTime: null, jsonLd: [] })).toBeUndefined();
    expect(datedFact({ id: 'v', kind: 'video', metadata: { createdAt: 'x' } })).toBeUndefined();
  });
});

describe('EXIF', () => {
  it('capturedBefore: an offset is honoured; without one, only a time before in every zone passes', () => {
    const exif = (captureTime: string) => ({ exif: { captureTime } });
    expect(capturedBeforeCheck('2024-12-18', exif('2024-12-17T23:00:00+02:00')).passed).toBe(true);
    expect(capturedBeforeCheck('2024-12-18', exif('2024-12-17T23:00:00')).passed).toBe(false);
    expect(capturedBeforeCheck('2024-12-18', exif('2024-12-17T11:00:00')).passed).toBe(true);
    expect(capturedBeforeCheck('2024-12-18T00:00:00+02:00', exif('2024-12-17T23:00:00Z')).passed).toBe(false);
    expect(capturedBeforeCheck('2024-12-18', {})).toEqual({
      name: 'capturedBefore',
      expected: '2024-12-18',
      observed: null,
      passed: false,
    });
  });

  it('location: great-circle distance against the radius; no GPS observes null', () => {
    // Kyiv to Lviv is about 469 km.
    expect(distanceMeters({ lat: 50.4501, lon: 30.5234 }, { lat: 49.8397, lon: 24.0297 })).toBeGreaterThan(
      465_000,
    );
    expect(distanceMeters({ lat: 50.4501, lon: 30.5234 }, { lat: 49.8397, lon: 24.0297 })).toBeLessThan(
      473_000,
    );
    const gps = { exif: { gps: { latitude: 50.4501, longitude: 30.5234 } } };
    expect(locationCheck({ lat: 49.8397, lon: 24.0297, radiusMeters: 500_000 }, gps).passed).toBe(true);
    expect(locationCheck({ lat: 49.8397, lon: 24.0297, radiusMeters: 50_000 }, gps).passed).toBe(false);
    expect(locationCheck({ lat: 0, lon: 0, radiusMeters: 1 }, {})).toMatchObject({
      observed: null,
      passed: false,
    });
  });
});
