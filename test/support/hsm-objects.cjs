// An independent look into a token, from a separate process, for the HSM tests.
//   node hsm-objects.cjs <module> <token label> <pin> inspect <label>
//     prints the protection and usage attributes of the private key with that label (and, under
//     `public`, of its public half), and whether its value (CKA_VALUE) can be read: proves that keys
//     Tessera generated cannot leave the token and can do nothing but sign and verify
//   node hsm-objects.cjs <module> <token label> <pin> list
//     prints [{ label, id, class }] of every key object in the token (any label), sorted
//   node hsm-objects.cjs <module> <token label> <pin> generate <label> <id>
//     generates an Ed25519 token key pair with that label and CKA_ID, as Tessera does, then exits: what a
//     process that died between generating a key and committing its row leaves behind
const graphene = require('graphene-pk11');

const [modulePath, tokenLabel, pin, command, label, id] = process.argv.slice(2);
const mod = graphene.Module.load(modulePath, 'objects');
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
  const session = slot.open(graphene.SessionFlag.SERIAL_SESSION | graphene.SessionFlag.RW_SESSION);
  session.login(pin, graphene.UserType.USER);
  if (command === 'inspect') {
    const found = session.find({ class: graphene.ObjectClass.PRIVATE_KEY, label });
    const key = found.items(0);
    const attributes = key.getAttribute({
      sensitive: null,
      extractable: null,
      token: null,
      private: null,
      sign: null,
      decrypt: null,
      unwrap: null,
      derive: null,
    });
    const publicKeys = session.find({ class: graphene.ObjectClass.PUBLIC_KEY, label });
    const publicKey =
      publicKeys.length === 1
        ? publicKeys.items(0).getAttribute({ verify: null, encrypt: null, wrap: null })
        : { count: publicKeys.length };
    let valueReadable;
    try {
      key.getAttribute({ value: null });
      valueReadable = true;
    } catch (error) {
      valueReadable = String(error.message).split('\n')[0];
    }
    process.stdout.write(
      JSON.stringify({ count: found.length, ...attributes, valueReadable, public: publicKey }),
    );
  } else if (command === 'list') {
    const objects = [];
    for (const [objectClass, name] of [
      [graphene.ObjectClass.PRIVATE_KEY, 'private'],
      [graphene.ObjectClass.PUBLIC_KEY, 'public'],
    ]) {
      const found = session.find({ class: objectClass });
      for (let i = 0; i < found.length; i++) {
        const attributes = found.items(i).getAttribute({ label: null, id: null });
        objects.push({ label: attributes.label, id: attributes.id.toString(), class: name });
      }
    }
    objects.sort((a, b) => `${a.label} ${a.class}`.localeCompare(`${b.label} ${b.class}`));
    process.stdout.write(JSON.stringify(objects));
  } else if (command === 'generate') {
    const common = { keyType: 0x40, token: true, label, id: Buffer.from(id) };
    session.generateKeyPair(
      { name: 0x1055, params: null },
      {
        ...common,
        private: false,
        verify: true,
        encrypt: false,
        wrap: false,
        paramsEC: Buffer.from('06032b6570', 'hex'),
      },
      {
        ...common,
        private: true,
        sign: true,
        decrypt: false,
        unwrap: false,
        derive: false,
        sensitive: true,
        extractable: false,
      },
    );
  } else {
    throw new Error(`unknown command ${command}`);
  }
  session.logout();
  session.close();
} finally {
  mod.finalize();
}
