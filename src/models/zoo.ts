// Every architecture file registers its own named configs (timm's register_model) and unit
// rules when imported; importing this module imports them all.
import "./vit.js";
import "./swin.js";
import "./convnext.js";
import "./asmlp.js";
