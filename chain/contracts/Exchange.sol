// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title The relayer's exchange contract: custody and on-chain settlement.
/// @notice Users deposit Ether and ERC-20 tokens here and trade through the relayer's signed
/// off-chain order book; admins (the relayer's operator keys) settle each trade and dispatch
/// each withdrawal, and this contract checks the users' signatures again. Hashes and
/// signatures follow PROTOCOL.md ("Hashes and signatures"): keccak256 over abi.encodePacked,
/// signed with the "\x19Ethereum Signed Message:\n32" prefix (web3.eth.sign). Each user
/// signature may instead be an EIP-712 typed-data signature (docs/signing-eip712.md): its
/// signatureType says which (SIGNATURE_ETH_SIGN or SIGNATURE_EIP712). Either way the
/// orderHash, tradeHash and withdrawHash identify the order, fill and withdrawal (the
/// `traded`, `withdrawn` and `orderFills` maps).
///
/// Fee cap: every fee (withdrawal, maker, taker, gas) is at most 10% of the amount it is
/// taken from: fee <= base / 10, rounded down (so fee * 10 <= base). The cap is a constant, so
/// no operator can raise it.
///
/// Escape hatch: a user that no admin action (trade, withdrawal) nor deposit has touched for
/// `inactivityReleasePeriod` blocks can withdraw directly with `withdraw`.
contract Exchange {
    /// Every fee is at most base / FEE_CAP_DIVISOR (10%).
    uint256 public constant FEE_CAP_DIVISOR = 10;

    /// secp256k1n / 2: a larger s is the malleable twin of a valid signature.
    uint256 private constant HALF_N =
        0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    /// How a user signature signs (the signatureType of an order, a fill, a withdrawal).
    uint8 public constant SIGNATURE_ETH_SIGN = 0;
    uint8 public constant SIGNATURE_EIP712 = 1;

    /// EIP-712: the domain and the struct types (exchange/protocol/typed_data.py has the same strings).
    bytes32 private constant DOMAIN_TYPEHASH = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    );
    bytes32 private constant NAME_HASH = keccak256("Relayer Exchange");
    bytes32 private constant VERSION_HASH = keccak256("1");
    bytes32 private constant ORDER_TYPEHASH = keccak256(
        "Order(address contractAddress,address account,address giveTokenAddress,"
        "uint256 giveAmount,address takeTokenAddress,uint256 takeAmount,uint256 nonce,"
        "uint256 expiryTimestampInMilliseconds)"
    );
    bytes32 private constant CANCEL_TYPEHASH = keccak256("Cancel(bytes32 orderHash,uint256 nonce)");
    bytes32 private constant TRADE_TYPEHASH = keccak256(
        "Trade(address contractAddress,bytes32 orderHash,uint256 amount,address account,"
        "uint256 nonce)"
    );
    bytes32 private constant WITHDRAW_TYPEHASH = keccak256(
        "Withdraw(address contractAddress,address tokenAddress,uint256 amount,address account,"
        "uint256 nonce)"
    );

    address public owner;
    address public feeAccount;
    mapping(address => bool) public admins;
    uint256 public immutable inactivityReleasePeriod;

    /// token => user => amount (Ether is address(0)).
    mapping(address => mapping(address => uint256)) private balances;
    mapping(address => uint256) public lastActiveBlock;
    /// withdrawHash => paid.
    mapping(bytes32 => bool) public withdrawn;
    /// tradeHash => settled.
    mapping(bytes32 => bool) public traded;
    /// orderHash => amount filled, in the order's take-token units.
    mapping(bytes32 => uint256) public orderFills;

    uint256 private locked = 1;

    /// A maker's signed order, as the relayer's API received it.
    struct Order {
        address maker;
        address giveToken;
        uint256 giveAmount;
        address takeToken;
        uint256 takeAmount;
        uint256 nonce;
        uint256 expiryMs;
        uint8 v;
        bytes32 r;
        bytes32 s;
        uint8 signatureType; // SIGNATURE_ETH_SIGN or SIGNATURE_EIP712
    }

    /// A taker's signed fill of an order and the fees charged on it.
    struct Fill {
        address taker;
        uint256 amount; // in the order's take-token units: what the taker gives
        uint256 nonce;
        uint8 v;
        bytes32 r;
        bytes32 s;
        uint256 makerFee; // in the take token, out of what the maker receives
        uint256 takerFee; // in the give token, out of what the taker receives
        uint256 gasFee; // in the give token, out of what the taker receives
        uint8 signatureType; // SIGNATURE_ETH_SIGN or SIGNATURE_EIP712
    }

    event Deposit(address token, address user, uint256 amount, uint256 balance);
    event Withdraw(address token, address user, uint256 amount, uint256 balance);
    event Trade(
        bytes32 indexed orderHash,
        bytes32 indexed tradeHash,
        address maker,
        address taker,
        address giveToken,
        uint256 giveAmount,
        address takeToken,
        uint256 takeAmount,
        uint256 makerFee,
        uint256 takerFee,
        uint256 gasFee
    );
    event OwnerChanged(address previousOwner, address newOwner);
    event AdminChanged(address admin, bool isAdmin);
    event FeeAccountChanged(address previousFeeAccount, address newFeeAccount);

    modifier onlyOwner() {
        require(msg.sender == owner, "Exchange: not the owner");
        _;
    }

    modifier onlyAdmin() {
        require(admins[msg.sender], "Exchange: not an admin");
        _;
    }

    modifier nonReentrant() {
        require(locked == 1, "Exchange: reentrant call");
        locked = 2;
        _;
        locked = 1;
    }

    constructor(address feeAccount_, uint256 inactivityReleasePeriod_) {
        require(feeAccount_ != address(0), "Exchange: zero fee account");
        owner = msg.sender;
        feeAccount = feeAccount_;
        inactivityReleasePeriod = inactivityReleasePeriod_;
        emit OwnerChanged(address(0), msg.sender);
        emit FeeAccountChanged(address(0), feeAccount_);
    }

    // ---- Administration ----

    function setOwner(address newOwner) external onlyOwner {
        require(newOwner != address(0), "Exchange: zero owner");
        emit OwnerChanged(owner, newOwner);
        owner = newOwner;
    }

    function setAdmin(address admin, bool isAdmin) external onlyOwner {
        admins[admin] = isAdmin;
        emit AdminChanged(admin, isAdmin);
    }

    function setFeeAccount(address newFeeAccount) external onlyOwner {
        require(newFeeAccount != address(0), "Exchange: zero fee account");
        emit FeeAccountChanged(feeAccount, newFeeAccount);
        feeAccount = newFeeAccount;
    }

    // ---- Hashes (PROTOCOL.md), exposed so clients and tests can check their own ----

    function orderHash(
        address maker,
        address giveToken,
        uint256 giveAmount,
        address takeToken,
        uint256 takeAmount,
        uint256 nonce,
        uint256 expiryMs
    ) public view returns (bytes32) {
        return keccak256(
            abi.encodePacked(
                address(this), maker, giveToken, giveAmount, takeToken, takeAmount, nonce, expiryMs
            )
        );
    }

    function tradeHash(bytes32 orderHash_, uint256 amount, address taker, uint256 nonce)
        public
        view
        returns (bytes32)
    {
        return keccak256(abi.encodePacked(address(this), orderHash_, amount, taker, nonce));
    }

    function withdrawHash(address token, uint256 amount, address user, uint256 nonce)
        public
        view
        returns (bytes32)
    {
        return keccak256(abi.encodePacked(address(this), token, amount, user, nonce));
    }

    /// Cancels are off-chain only (the relayer removes the order from its book); the hash is
    /// here so that clients can check theirs against the contract's.
    function cancelHash(bytes32 orderHash_, uint256 nonce) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(orderHash_, nonce));
    }

    /// The address that signed `hash` with web3.eth.sign, or address(0) if none did.
    /// v may be 27/28 or 0/1; high-s signatures recover to nobody.
    function recoverSigner(bytes32 hash, uint8 v, bytes32 r, bytes32 s)
        public
        pure
        returns (address)
    {
        return _ecrecover(
            keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", hash)), v, r, s
        );
    }

    /// The address that signed the EIP-712 `digest` (no prefix), or address(0) if none did.
    function recoverTypedSigner(bytes32 digest, uint8 v, bytes32 r, bytes32 s)
        public
        pure
        returns (address)
    {
        return _ecrecover(digest, v, r, s);
    }

    function _ecrecover(bytes32 message, uint8 v, bytes32 r, bytes32 s)
        private
        pure
        returns (address)
    {
        if (v < 27) v += 27;
        if ((v != 27 && v != 28) || uint256(s) > HALF_N) return address(0);
        return ecrecover(message, v, r, s);
    }

    // ---- EIP-712 typed data (docs/signing-eip712.md) ----

    /// Computed on every call, not cached: a fork with another chain id gets its own.
    function domainSeparator() public view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this))
        );
    }

    function _typedDigest(bytes32 structHash) private view returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    /// The digests a wallet signs for each message, bound to this contract and chain.
    function orderDigest(
        address maker,
        address giveToken,
        uint256 giveAmount,
        address takeToken,
        uint256 takeAmount,
        uint256 nonce,
        uint256 expiryMs
    ) public view returns (bytes32) {
        return _typedDigest(
            keccak256(
                abi.encode(
                    ORDER_TYPEHASH,
                    address(this),
                    maker,
                    giveToken,
                    giveAmount,
                    takeToken,
                    takeAmount,
                    nonce,
                    expiryMs
                )
            )
        );
    }

    function cancelDigest(bytes32 orderHash_, uint256 nonce) public view returns (bytes32) {
        return _typedDigest(keccak256(abi.encode(CANCEL_TYPEHASH, orderHash_, nonce)));
    }

    function tradeDigest(bytes32 orderHash_, uint256 amount, address taker, uint256 nonce)
        public
        view
        returns (bytes32)
    {
        return _typedDigest(
            keccak256(abi.encode(TRADE_TYPEHASH, address(this), orderHash_, amount, taker, nonce))
        );
    }

    function withdrawDigest(address token, uint256 amount, address user, uint256 nonce)
        public
        view
        returns (bytes32)
    {
        return _typedDigest(
            keccak256(abi.encode(WITHDRAW_TYPEHASH, address(this), token, amount, user, nonce))
        );
    }

    function _requireSignatureType(uint8 signatureType) private pure {
        require(signatureType <= SIGNATURE_EIP712, "Exchange: unknown signature type");
    }

    function _orderSigner(Order calldata order, bytes32 oHash) private view returns (address) {
        _requireSignatureType(order.signatureType);
        if (order.signatureType == SIGNATURE_ETH_SIGN) {
            return recoverSigner(oHash, order.v, order.r, order.s);
        }
        bytes32 digest = orderDigest(
            order.maker,
            order.giveToken,
            order.giveAmount,
            order.takeToken,
            order.takeAmount,
            order.nonce,
            order.expiryMs
        );
        return _ecrecover(digest, order.v, order.r, order.s);
    }

    function _fillSigner(Fill calldata fill, bytes32 oHash, bytes32 tHash)
        private
        view
        returns (address)
    {
        _requireSignatureType(fill.signatureType);
        if (fill.signatureType == SIGNATURE_ETH_SIGN) {
            return recoverSigner(tHash, fill.v, fill.r, fill.s);
        }
        bytes32 digest = tradeDigest(oHash, fill.amount, fill.taker, fill.nonce);
        return _ecrecover(digest, fill.v, fill.r, fill.s);
    }

    // ---- Balances ----

    function balanceOf(address token, address user) external view returns (uint256) {
        return balances[token][user];
    }

    function deposit() external payable nonReentrant {
        require(msg.value > 0, "Exchange: zero amount");
        _credit(address(0), msg.sender, msg.value);
    }

    /// Pulls `amount` of `token` (approved beforehand) and credits what actually arrived.
    function depositToken(address token, uint256 amount) external nonReentrant {
        require(token != address(0), "Exchange: use deposit() for Ether");
        require(amount > 0, "Exchange: zero amount");
        uint256 before = _tokenBalance(token);
        _safeTransferFrom(token, msg.sender, address(this), amount);
        uint256 received = _tokenBalance(token) - before;
        require(received > 0, "Exchange: nothing received");
        _credit(token, msg.sender, received);
    }

    function _credit(address token, address user, uint256 amount) private {
        uint256 balance = balances[token][user] + amount;
        balances[token][user] = balance;
        lastActiveBlock[user] = block.number;
        emit Deposit(token, user, amount, balance);
    }

    // ---- Withdrawals ----

    /// Pays a withdrawal the user signed: `amount` leaves the user's balance, `feeWithdrawal`
    /// of it goes to the fee account and the rest to the user. Each withdrawHash is paid once,
    /// whichever way (`signatureType`) it was signed.
    function adminWithdraw(
        address token,
        uint256 amount,
        address user,
        uint256 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s,
        uint256 feeWithdrawal,
        uint8 signatureType
    ) external onlyAdmin nonReentrant {
        require(amount > 0, "Exchange: zero amount");
        require(feeWithdrawal <= amount / FEE_CAP_DIVISOR, "Exchange: fee over the cap");
        _requireSignatureType(signatureType);
        bytes32 hash = withdrawHash(token, amount, user, nonce);
        require(!withdrawn[hash], "Exchange: already withdrawn");
        address signer = signatureType == SIGNATURE_ETH_SIGN
            ? recoverSigner(hash, v, r, s)
            : _ecrecover(withdrawDigest(token, amount, user, nonce), v, r, s);
        require(signer != address(0) && signer == user, "Exchange: bad signature");
        uint256 balance = balances[token][user];
        require(balance >= amount, "Exchange: insufficient balance");

        withdrawn[hash] = true;
        balance -= amount;
        balances[token][user] = balance;
        balances[token][feeAccount] += feeWithdrawal;
        lastActiveBlock[user] = block.number;
        emit Withdraw(token, user, amount, balance);

        _pay(token, user, amount - feeWithdrawal);
    }

    /// The escape hatch: once no admin action or deposit has touched the caller for
    /// `inactivityReleasePeriod` blocks, the caller withdraws without the relayer.
    function withdraw(address token, uint256 amount) external nonReentrant {
        require(
            block.number >= lastActiveBlock[msg.sender] + inactivityReleasePeriod,
            "Exchange: inactivity period not over"
        );
        require(amount > 0, "Exchange: zero amount");
        uint256 balance = balances[token][msg.sender];
        require(balance >= amount, "Exchange: insufficient balance");

        balance -= amount;
        balances[token][msg.sender] = balance;
        emit Withdraw(token, msg.sender, amount, balance);

        _pay(token, msg.sender, amount);
    }

    // ---- Trades ----

    /// Settles one fill of one order, as the relayer's engine made it (PROTOCOL.md, "Trades"):
    /// the taker gives `fill.amount` of the take token and receives
    /// fill.amount * giveAmount / takeAmount (rounded down) of the give token; the maker pays
    /// makerFee out of what it receives, the taker takerFee + gasFee out of what it receives.
    ///
    /// The order's expiry is not checked against the block time: the relayer checked it when
    /// it matched the trade, and settlement may be mined later than that (a congested network,
    /// a resent transaction); refusing then would break a trade both users already signed and
    /// the off-chain ledger already booked. The expiry is still part of the signed orderHash.
    function trade(Order calldata order, Fill calldata fill) external onlyAdmin nonReentrant {
        require(order.maker != fill.taker, "Exchange: self trade");
        require(order.giveToken != order.takeToken, "Exchange: same token");
        require(order.giveAmount > 0 && order.takeAmount > 0, "Exchange: zero order amount");
        require(fill.amount > 0, "Exchange: zero amount");

        bytes32 oHash = orderHash(
            order.maker,
            order.giveToken,
            order.giveAmount,
            order.takeToken,
            order.takeAmount,
            order.nonce,
            order.expiryMs
        );
        bytes32 tHash = tradeHash(oHash, fill.amount, fill.taker, fill.nonce);
        require(!traded[tHash], "Exchange: already traded");
        require(orderFills[oHash] + fill.amount <= order.takeAmount, "Exchange: order overfilled");
        address maker = _orderSigner(order, oHash);
        require(maker != address(0) && maker == order.maker, "Exchange: bad maker signature");
        address taker = _fillSigner(fill, oHash, tHash);
        require(taker != address(0) && taker == fill.taker, "Exchange: bad taker signature");

        uint256 giveOut = (fill.amount * order.giveAmount) / order.takeAmount;
        require(giveOut > 0, "Exchange: trade too small");
        require(fill.makerFee <= fill.amount / FEE_CAP_DIVISOR, "Exchange: maker fee over the cap");
        require(fill.takerFee <= giveOut / FEE_CAP_DIVISOR, "Exchange: taker fee over the cap");
        require(fill.gasFee <= giveOut / FEE_CAP_DIVISOR, "Exchange: gas fee over the cap");
        require(fill.takerFee + fill.gasFee <= giveOut, "Exchange: fees over the amount");

        _settle(order, fill, giveOut);

        traded[tHash] = true;
        orderFills[oHash] += fill.amount;
        lastActiveBlock[maker] = block.number;
        lastActiveBlock[taker] = block.number;
        _emitTrade(oHash, tHash, order, fill, giveOut);
    }

    function _emitTrade(
        bytes32 oHash,
        bytes32 tHash,
        Order calldata order,
        Fill calldata fill,
        uint256 giveOut
    ) private {
        emit Trade(
            oHash,
            tHash,
            order.maker,
            fill.taker,
            order.giveToken,
            giveOut,
            order.takeToken,
            fill.amount,
            fill.makerFee,
            fill.takerFee,
            fill.gasFee
        );
    }

    function _settle(Order calldata order, Fill calldata fill, uint256 giveOut) private {
        mapping(address => uint256) storage take = balances[order.takeToken];
        mapping(address => uint256) storage give = balances[order.giveToken];
        require(take[fill.taker] >= fill.amount, "Exchange: taker balance too low");
        require(give[order.maker] >= giveOut, "Exchange: maker balance too low");
        take[fill.taker] -= fill.amount;
        take[order.maker] += fill.amount - fill.makerFee;
        take[feeAccount] += fill.makerFee;
        give[order.maker] -= giveOut;
        give[fill.taker] += giveOut - fill.takerFee - fill.gasFee;
        give[feeAccount] += fill.takerFee + fill.gasFee;
    }

    // ---- Transfers out and in ----

    function _pay(address token, address to, uint256 amount) private {
        if (amount == 0) return;
        if (token == address(0)) {
            (bool ok,) = to.call{value: amount}("");
            require(ok, "Exchange: ether transfer failed");
        } else {
            _callToken(token, abi.encodeWithSelector(0xa9059cbb, to, amount)); // transfer
        }
    }

    function _safeTransferFrom(address token, address from, address to, uint256 amount) private {
        _callToken(token, abi.encodeWithSelector(0x23b872dd, from, to, amount)); // transferFrom
    }

    /// Calls an ERC-20 that may return a bool or nothing (USDT and other early tokens): a
    /// revert, or a returned false, fails; so does a call to an address without code.
    function _callToken(address token, bytes memory data) private {
        require(token.code.length > 0, "Exchange: token has no code");
        (bool ok, bytes memory returned) = token.call(data);
        require(
            ok && (returned.length == 0 || abi.decode(returned, (bool))),
            "Exchange: token transfer failed"
        );
    }

    function _tokenBalance(address token) private view returns (uint256) {
        (bool ok, bytes memory returned) =
            token.staticcall(abi.encodeWithSelector(0x70a08231, address(this))); // balanceOf
        require(ok && returned.length >= 32, "Exchange: token balanceOf failed");
        return abi.decode(returned, (uint256));
    }
}
