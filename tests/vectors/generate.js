// Test vectors for the protocol's hashes and signatures, computed by ethers (v6), the
// library a JavaScript client uses. Regenerate with `node tests/vectors/generate.js`
// (after `npm install`); tests/chain/test_vectors.py checks the JSON against chain/.
const fs = require("fs");
const path = require("path");
const { Wallet, solidityPackedKeccak256, getBytes, version } = require("ethers");

const MAX = (2n ** 256n - 1n).toString();
const KEYS = [
  "0x0000000000000000000000000000000000000000000000000000000000000001",
  "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
  "0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140",
];
const CONTRACT = "0x5fbdb2315678afecb367f032d93f642f64180aa3";
const ETHER = "0x0000000000000000000000000000000000000000";
const TOKEN = "0xa2b31dacf30a9c50ca473337c01d8a201ae33e32";

const TYPES = {
  order: [
    ["contractAddress", "address"],
    ["account", "address"],
    ["giveTokenAddress", "address"],
    ["giveAmount", "uint256"],
    ["takeTokenAddress", "address"],
    ["takeAmount", "uint256"],
    ["nonce", "uint256"],
    ["expiryTimestampInMilliseconds", "uint256"],
  ],
  cancel: [
    ["orderHash", "bytes32"],
    ["nonce", "uint256"],
  ],
  trade: [
    ["contractAddress", "address"],
    ["orderHash", "bytes32"],
    ["amount", "uint256"],
    ["account", "address"],
    ["nonce", "uint256"],
  ],
  withdraw: [
    ["contractAddress", "address"],
    ["tokenAddress", "address"],
    ["amount", "uint256"],
    ["account", "address"],
    ["nonce", "uint256"],
  ],
};

function hashOf(kind, fields) {
  const spec = TYPES[kind];
  return solidityPackedKeccak256(
    spec.map(([, type]) => type),
    spec.map(([name]) => fields[name]),
  );
}

const vectors = [];
KEYS.forEach((privateKey, index) => {
  const wallet = new Wallet(privateKey);
  const account = wallet.address.toLowerCase();
  const orders = [
    {
      contractAddress: CONTRACT,
      account,
      giveTokenAddress: ETHER,
      giveAmount: "10000000000000000",
      takeTokenAddress: TOKEN,
      takeAmount: "20000000000000000",
      nonce: "1506550595000",
      expiryTimestampInMilliseconds: "1506550595000",
    },
    {
      contractAddress: CONTRACT,
      account,
      giveTokenAddress: TOKEN,
      giveAmount: MAX,
      takeTokenAddress: ETHER,
      takeAmount: "1",
      nonce: "0",
      expiryTimestampInMilliseconds: String(9007199254740993n + BigInt(index)),
    },
  ];
  for (const order of orders) {
    const orderHash = hashOf("order", order);
    const items = [
      ["order", order],
      ["cancel", { orderHash, nonce: String(1700000000000 + index) }],
      ["trade", { contractAddress: CONTRACT, orderHash, amount: MAX, account, nonce: "42" }],
      [
        "withdraw",
        { contractAddress: CONTRACT, tokenAddress: TOKEN, amount: order.giveAmount, account, nonce: "7" },
      ],
    ];
    for (const [kind, fields] of items) {
      const hash = hashOf(kind, fields);
      const signature = wallet.signMessageSync(getBytes(hash));
      vectors.push({ kind, privateKey, address: account, fields, hash, signature });
    }
  }
});

const out = path.join(__dirname, "ethers.json");
fs.writeFileSync(out, JSON.stringify({ generator: "ethers " + version, vectors }, null, 2) + "\n");
console.log(`wrote ${vectors.length} vectors to ${path.relative(process.cwd(), out)}`);
