// Fixtures of the trainer tests: the shared tiny ViT and texture task (test/helpers/textures.ts).
import { manualSeed } from "../../src/engine/index.js";
import { VisionTransformer } from "../../src/models/index.js";
import { train, type TrainConfig, type TrainResult } from "../../src/train/index.js";
import { quiet, textures, tinyVit } from "../helpers/textures.js";

export { quiet };
export const tiny = () => tinyVit(3);
export const synthetic = textures;

/**
 * A resumable run of the tiny ViT with stochastic depth (randomness inside every step), from the
 * same initial weights each time: `haltAfterEpochs` simulates a kill, a later call resumes.
 */
export function dropPathRun(config: TrainConfig) {
  return (outDir: string, haltAfterEpochs?: number): TrainResult => {
    manualSeed(99); // model init; the trainer seeds itself from config.seed
    const model = tiny();
    const dropModel = new VisionTransformer({ ...model.cfg, dropPathRate: 0.2 });
    dropModel.loadStateDict(model.stateDict());
    return train({ model: dropModel, trainable: "all", train: synthetic(48, 3), val: synthetic(32, 4), config, outDir, resume: true, progress: quiet, haltAfterEpochs, inputs: { model: "tiny" } });
  };
}
