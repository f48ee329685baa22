// Bundles js/src/widgets.ts into one self-contained ES module that every widget's _esm points at.
import * as esbuild from "esbuild";

const options = {
  entryPoints: ["js/src/widgets.ts"],
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: true,
  sourcemap: false,
  outfile: "geowidget/static/widgets.js",
  logLevel: "info",
};

if (process.argv.includes("--watch")) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
