// Bundles js/src/widgets.ts into one self-contained ES module that every widget's _esm points
// at, and js/src/widgets.css into the styles every widget's _css points at.
import * as esbuild from "esbuild";

const options = {
  entryPoints: ["js/src/widgets.ts", "js/src/widgets.css"],
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: true,
  sourcemap: false,
  outdir: "geowidget/static",
  logLevel: "info",
};

if (process.argv.includes("--watch")) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
