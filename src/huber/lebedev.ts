/**
 * Lebedev rules on the unit sphere S²: nodes invariant under the octahedral group, weights such that
 * every polynomial of degree ≤ the rule's degree integrates exactly. For a smooth integrand they reach
 * the accuracy of a Gauss–Legendre × trapezoid product rule with about 2/3 of its nodes and no cluster
 * of nodes at the poles (docs/fusion-math.md, Cost).
 *
 * Tables: V. I. Lebedev and D. N. Laikov, "A quadrature formula for the sphere of the 131st algebraic
 * order of accuracy", Doklady Mathematics 59 (1999) 477–481, written as octahedral orbit generators with
 * weights normalized to sum 1 (literals rounded to the nearest double).
 */

/** One octahedral orbit: its kind, up to two free coordinates, and the weight of each of its nodes. */
interface Orbit {
  /**
   * a1: (±1,0,0) and permutations, 6 nodes; a2: (±1,±1,0)/√2, 12; a3: (±1,±1,±1)/√3, 8; b: (±l,±l,±m)
   * with m = √(1 − 2l²), 24; c: (±p,±q,0) with q = √(1 − p²), 24.
   */
  readonly kind: 'a1' | 'a2' | 'a3' | 'b' | 'c';
  readonly first?: number;
  readonly weight: number;
}

interface RuleTable {
  readonly points: number;
  /** Highest total degree of x^a·y^b·z^c the rule integrates exactly. */
  readonly degree: number;
  readonly orbits: readonly Orbit[];
}

const TABLES: readonly RuleTable[] = [
  {
    points: 26,
    degree: 7,
    orbits: [
      { kind: 'a1', weight: 1 / 21 },
      { kind: 'a2', weight: 4 / 105 },
      { kind: 'a3', weight: 9 / 280 },
    ],
  },
  {
    points: 38,
    degree: 9,
    orbits: [
      { kind: 'a1', weight: 1 / 105 },
      { kind: 'a3', weight: 9 / 280 },
      { kind: 'c', first: 0.4597008433809831, weight: 1 / 35 },
    ],
  },
  {
    points: 50,
    degree: 11,
    orbits: [
      { kind: 'a1', weight: 0.126984126984127e-1 },
      { kind: 'a2', weight: 0.2257495590828924e-1 },
      { kind: 'a3', weight: 0.2109375e-1 },
      { kind: 'b', first: 0.3015113445777636, weight: 0.2017333553791887e-1 },
    ],
  },
  {
    points: 86,
    degree: 15,
    orbits: [
      { kind: 'a1', weight: 0.1154401154401154e-1 },
      { kind: 'a3', weight: 0.1194390908585628e-1 },
      { kind: 'b', first: 0.3696028464541502, weight: 0.111105557106034e-1 },
      { kind: 'b', first: 0.6943540066026664, weight: 0.1187650129453714e-1 },
      { kind: 'c', first: 0.3742430390903412, weight: 0.1181230374690448e-1 },
    ],
  },
  {
    points: 110,
    degree: 17,
    orbits: [
      { kind: 'a1', weight: 0.3828270494937162e-2 },
      { kind: 'a3', weight: 0.009793737512487513 },
      { kind: 'b', first: 0.1851156353447362, weight: 0.8211737283191111e-2 },
      { kind: 'b', first: 0.6904210483822922, weight: 0.9942814891178103e-2 },
      { kind: 'b', first: 0.3956894730559419, weight: 0.009595471336070962 },
      { kind: 'c', first: 0.4783690288121502, weight: 0.009694996361663029 },
    ],
  },
];

export interface SphericalRule {
  /** count × 3, row-major unit vectors. */
  readonly nodes: Float64Array;
  /** Per node; they sum to 4π, the sphere's area. */
  readonly weights: Float64Array;
  readonly count: number;
  readonly degree: number;
}

/** The point counts available. */
export const LEBEDEV_POINTS: readonly number[] = TABLES.map((table) => table.points);

/** Every distinct vector of signs and placements of (x, y, z) under the octahedral group. */
function orbitNodes(orbit: Orbit): number[][] {
  const seeds: number[][] = [];
  switch (orbit.kind) {
    case 'a1':
      seeds.push([1, 0, 0]);
      break;
    case 'a2':
      seeds.push([Math.SQRT1_2, Math.SQRT1_2, 0]);
      break;
    case 'a3': {
      const s = 1 / Math.sqrt(3);
      seeds.push([s, s, s]);
      break;
    }
    case 'b': {
      const l = orbit.first!;
      seeds.push([l, l, Math.sqrt(1 - 2 * l * l)]);
      break;
    }
    case 'c': {
      const p = orbit.first!;
      seeds.push([p, Math.sqrt(1 - p * p), 0]);
      break;
    }
  }
  const permutations = [
    [0, 1, 2],
    [0, 2, 1],
    [1, 0, 2],
    [1, 2, 0],
    [2, 0, 1],
    [2, 1, 0],
  ];
  const seen = new Set<string>();
  const out: number[][] = [];
  for (const seed of seeds) {
    for (const permutation of permutations) {
      for (let signs = 0; signs < 8; signs++) {
        const node = permutation.map((axis, i) => ((signs >> i) & 1 ? -1 : 1) * seed[axis]);
        // −0 and 0 are the same node.
        const key = node.map((v) => (v === 0 ? 0 : v).toFixed(15)).join(',');
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(node);
      }
    }
  }
  return out;
}

const cache = new Map<number, SphericalRule>();

/** The Lebedev rule with `points` nodes (one of LEBEDEV_POINTS). */
export function lebedevRule(points: number): SphericalRule {
  const cached = cache.get(points);
  if (cached !== undefined) return cached;
  const table = TABLES.find((candidate) => candidate.points === points);
  if (table === undefined) throw new RangeError(`no Lebedev rule with ${points} points; available: ${LEBEDEV_POINTS.join(', ')}`);
  const nodes = new Float64Array(3 * points);
  const weights = new Float64Array(points);
  let k = 0;
  for (const orbit of table.orbits) {
    for (const node of orbitNodes(orbit)) {
      if (k >= points) throw new RangeError(`Lebedev table for ${points} points has too many nodes`);
      nodes.set(node, 3 * k);
      weights[k] = 4 * Math.PI * orbit.weight;
      k++;
    }
  }
  if (k !== points) throw new RangeError(`Lebedev table for ${points} points has ${k} nodes`);
  const rule: SphericalRule = { nodes, weights, count: points, degree: table.degree };
  cache.set(points, rule);
  return rule;
}
