// Registers every architecture's named configs: the paper's sizes and small ones that train on
// two CPU cores in minutes. Each entry sets sizes only; the model file does the rest.
import { registerModel, registerUnitRules } from "./registry.js";
import { VisionTransformer, VIT_UNITS, type VitConfig } from "./vit.js";

const vit = (name: string, description: string, cfg: Partial<VitConfig>) =>
  registerModel({
    name,
    arch: "vit",
    description,
    create: (o) => new VisionTransformer({ ...cfg, ...definedOnly(o) }),
  });

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

registerUnitRules(VIT_UNITS);
vit("vit_base_patch16_224", "ViT-B/16 (paper, Table 1)", { embedDim: 768, depth: 12, numHeads: 12 });
vit("vit_small_patch16_224", "ViT-S/16", { embedDim: 384, depth: 12, numHeads: 6 });
vit("vit_tiny_patch16_224", "ViT-Ti/16", { embedDim: 192, depth: 12, numHeads: 3 });
vit("vit_tiny_patch4_32", "ViT for 32x32 RGB (2.7M params, the engine benchmark's size)", { imageSize: 32, patchSize: 4, embedDim: 192, depth: 6, numHeads: 3, numClasses: 10 });
vit("vit_micro_patch4_28", "ViT for 28x28 grayscale (MNIST-like), trains in minutes on 2 cores", { imageSize: 28, patchSize: 4, inChans: 1, embedDim: 96, depth: 6, numHeads: 3, numClasses: 10 });
