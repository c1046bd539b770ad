import { Licensing, needsActivation } from '@tessera/sdk';
import { FileStore, machineFingerprint } from '@tessera/sdk/node';

const key = process.env.LICENSE_KEY; // as the user entered it
const store = new FileStore('license.json'); // offline cache, mode 0600
const licensing = new Licensing({ baseUrl: process.env.TESSERA_URL, store });
const fingerprint = await machineFingerprint('com.example.app'); // hashed, stable, per app
let result = await licensing.validate(key, { scope: { fingerprint } }); // every answer verified
if (needsActivation(result)) {
  await licensing.activate(key, { fingerprint, name: 'My laptop' });
  result = await licensing.validate(key, { scope: { fingerprint } });
}
console.log(result.valid ? `licensed (${result.source})` : `not licensed: ${result.code}`);
