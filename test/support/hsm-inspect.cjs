// An independent look into a token, from a separate process: prints the protection attributes of the
// private key with the given label, and whether its value (CKA_VALUE) can be read. Used by the HSM tests
// to prove that keys Tessera generated cannot leave the token.
// Usage: node hsm-inspect.cjs <module> <token label> <pin> <key label>
const graphene = require('graphene-pk11');

const [modulePath, tokenLabel, pin, keyLabel] = process.argv.slice(2);
const mod = graphene.Module.load(modulePath, 'inspect');
mod.initialize();
try {
  const slots = mod.getSlots(true);
  let slot;
  for (let i = 0; i < slots.length; i++) {
    if (
      slots
        .items(i)
        .getToken()
        .label.replace(/[\s\0]+$/, '') === tokenLabel
    ) {
      slot = slots.items(i);
    }
  }
  const session = slot.open(graphene.SessionFlag.SERIAL_SESSION);
  session.login(pin, graphene.UserType.USER);
  const found = session.find({ class: graphene.ObjectClass.PRIVATE_KEY, label: keyLabel });
  const key = found.items(0);
  const attributes = key.getAttribute({
    sensitive: null,
    extractable: null,
    token: null,
    private: null,
  });
  let valueReadable;
  try {
    key.getAttribute({ value: null });
    valueReadable = true;
  } catch (error) {
    valueReadable = String(error.message).split('\n')[0];
  }
  process.stdout.write(JSON.stringify({ count: found.length, ...attributes, valueReadable }));
  session.logout();
  session.close();
} finally {
  mod.finalize();
}
