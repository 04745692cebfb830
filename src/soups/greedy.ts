// Greedy soup (Wortsman et al. 2022, "Model soups", Recipe 1): sort the ingredients by held-out
// validation accuracy, start from the best, and try each other ingredient once in that order,
// keeping it only if the uniform average of the kept ingredients plus the candidate is strictly
// more accurate on the held-out set than the soup so far.

/** One step of the greedy pass: the candidate, the candidate soup's accuracy, and whether it stayed. */
export interface GreedyStep {
  ingredient: number;
  acc: number;
  kept: boolean;
}

export interface GreedyResult {
  /** Ingredient indices by decreasing validation accuracy (ties: earlier first). */
  order: number[];
  /** The soup's ingredients, in the order they were added. */
  kept: number[];
  /** Validation accuracy of the final soup. */
  acc: number;
  steps: GreedyStep[];
}

/**
 * `individual[i]` is ingredient i's validation accuracy; `soupAcc(members)` is the validation
 * accuracy of the uniform average of those ingredients (called once per candidate, n - 1 times).
 */
export function greedySelect(individual: readonly number[], soupAcc: (members: readonly number[]) => number): GreedyResult {
  if (individual.length === 0) throw new RangeError("greedySelect: no ingredients");
  const order = individual.map((_, i) => i).sort((a, b) => individual[b] - individual[a] || a - b);
  const kept = [order[0]];
  let best = individual[order[0]];
  const steps: GreedyStep[] = [];
  for (const i of order.slice(1)) {
    const acc = soupAcc([...kept, i]);
    const keep = acc > best;
    steps.push({ ingredient: i, acc, kept: keep });
    if (keep) {
      kept.push(i);
      best = acc;
    }
  }
  return { order, kept, acc: best, steps };
}
