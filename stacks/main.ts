// Entry point of `cdktf synth` / `cdktf deploy <stack>` (cdktf.json: npx tsx stacks/main.ts).
import { buildApp } from './app';

buildApp().synth();
