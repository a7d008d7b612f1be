// SPDX-License-Identifier: MIT
// Stand-ins for the contracts around conversions, bridges and price feeds, written for
// chaintrace's tests (not copies of anyone's code). The events they emit are the public
// layouts of the real ones: Circle CCTP V1's DepositForBurn / MessageReceived and Chainlink's
// AnswerUpdated. Compiled at test time with solcjs 0.8 (npm `solc`).
pragma solidity ^0.8.0;

import "./Tokens.sol";

/// A 6-decimal USDC-like token that the bridge contracts it names may mint and burn (a mint is
/// a Transfer from the zero address, a burn one to it, as Circle's FiatToken emits them).
contract UsdcLike is SimpleToken("USD Coin", "USDC", 6, 1_000_000_000 * 1e6) {
    address private deployer;
    mapping(address => bool) public minters;

    constructor() {
        deployer = msg.sender;
    }

    function addMinter(address m) external {
        require(msg.sender == deployer, "deployer");
        minters[m] = true;
    }

    function mint(address to, uint256 value) external {
        require(minters[msg.sender], "minter");
        totalSupply += value;
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
    }

    function burn(uint256 value) external {
        require(minters[msg.sender], "minter");
        require(balanceOf[msg.sender] >= value, "balance");
        balanceOf[msg.sender] -= value;
        totalSupply -= value;
        emit Transfer(msg.sender, address(0), value);
    }
}

/// CCTP V1's MessageTransmitter, reduced: `sendMessage` numbers outgoing messages with this
/// domain's nonces and emits `MessageSent(bytes)`; `receiveMessage` takes a message in CCTP's
/// V1 layout (version ‖ sourceDomain ‖ destinationDomain ‖ nonce ‖ sender ‖ recipient ‖
/// destinationCaller ‖ messageBody), refuses one used twice, hands the burn message to the
/// local messenger (which mints) and emits `MessageReceived`. Attestations are not checked.
contract CctpTransmitter {
    uint32 public localDomain;
    uint64 public nextAvailableNonce;
    address public messenger;
    mapping(bytes32 => bool) public usedNonces;

    event MessageSent(bytes message);
    event MessageReceived(
        address indexed caller, uint32 sourceDomain, uint64 indexed nonce, bytes32 sender, bytes messageBody
    );

    constructor(uint32 domain) {
        localDomain = domain;
    }

    function setMessenger(address m) external {
        require(messenger == address(0), "set");
        messenger = m;
    }

    function sendMessage(uint32 destinationDomain, bytes32 recipient, bytes calldata body) external returns (uint64) {
        require(msg.sender == messenger, "messenger");
        uint64 nonce = nextAvailableNonce;
        nextAvailableNonce = nonce + 1;
        emit MessageSent(
            abi.encodePacked(
                uint32(0), localDomain, destinationDomain, nonce, bytes32(uint256(uint160(msg.sender))), recipient,
                bytes32(0), body
            )
        );
        return nonce;
    }

    function receiveMessage(bytes calldata message, bytes calldata) external returns (bool) {
        require(message.length >= 116, "short");
        uint32 source = uint32(bytes4(message[4:8]));
        require(uint32(bytes4(message[8:12])) == localDomain, "domain");
        uint64 nonce = uint64(bytes8(message[12:20]));
        bytes32 sender = bytes32(message[20:52]);
        bytes32 key = keccak256(abi.encodePacked(source, nonce));
        require(!usedNonces[key], "nonce used");
        usedNonces[key] = true;
        bytes calldata body = message[116:];
        CctpMessenger(messenger).handleReceiveMessage(body);
        emit MessageReceived(msg.sender, source, nonce, sender, body);
        return true;
    }
}

/// CCTP V1's TokenMessenger (with its TokenMinter folded in), reduced: `depositForBurn` pulls
/// the depositor's tokens, burns them and emits `DepositForBurn` with the transmitter's nonce;
/// `handleReceiveMessage` mints the local token named at construction to the burn message's
/// recipient. Burn message: version ‖ burnToken ‖ mintRecipient ‖ amount ‖ messageSender.
contract CctpMessenger {
    CctpTransmitter public transmitter;
    UsdcLike public localToken;
    bytes32 public remoteMessenger;
    address private deployer;

    event DepositForBurn(
        uint64 indexed nonce,
        address indexed burnToken,
        uint256 amount,
        address indexed depositor,
        bytes32 mintRecipient,
        uint32 destinationDomain,
        bytes32 destinationTokenMessenger,
        bytes32 destinationCaller
    );

    constructor(CctpTransmitter t, UsdcLike token) {
        transmitter = t;
        localToken = token;
        deployer = msg.sender;
    }

    /// The messenger on the other chain (named in the events, as CCTP's remote messenger is).
    function setRemoteMessenger(bytes32 remote) external {
        require(msg.sender == deployer, "deployer");
        remoteMessenger = remote;
    }

    function depositForBurn(uint256 amount, uint32 destinationDomain, bytes32 mintRecipient, address burnToken)
        external
        returns (uint64 nonce)
    {
        require(amount > 0, "amount");
        require(UsdcLike(burnToken).transferFrom(msg.sender, address(this), amount), "pull");
        UsdcLike(burnToken).burn(amount);
        bytes memory body = abi.encodePacked(
            uint32(0), bytes32(uint256(uint160(burnToken))), mintRecipient, amount, bytes32(uint256(uint160(msg.sender)))
        );
        nonce = transmitter.sendMessage(destinationDomain, remoteMessenger, body);
        emit DepositForBurn(
            nonce, burnToken, amount, msg.sender, mintRecipient, destinationDomain, remoteMessenger, bytes32(0)
        );
    }

    function handleReceiveMessage(bytes calldata body) external returns (bool) {
        require(msg.sender == address(transmitter), "transmitter");
        require(body.length >= 132, "body");
        address recipient = address(uint160(uint256(bytes32(body[36:68]))));
        uint256 amount = uint256(bytes32(body[68:100]));
        localToken.mint(recipient, amount);
        return true;
    }
}

/// A Chainlink-style aggregator that replays recorded rounds: `transmit` stores a round and
/// emits `AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt)`
/// exactly as Chainlink's aggregators do, with the round's recorded `updatedAt` (a real
/// aggregator uses its block's time; the replay keeps the recorded one).
contract AnswerFeed {
    uint8 public decimals;
    uint256 public latestRound;
    mapping(uint256 => int256) public getAnswer;
    mapping(uint256 => uint256) public getTimestamp;

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    constructor(uint8 d) {
        decimals = d;
    }

    function transmit(uint256 roundId, int256 answer, uint256 updatedAt) external {
        latestRound = roundId;
        getAnswer[roundId] = answer;
        getTimestamp[roundId] = updatedAt;
        emit AnswerUpdated(answer, roundId, updatedAt);
    }
}

interface IUniswapV3PoolLike {
    function token0() external view returns (address);
    function token1() external view returns (address);
    function mint(address recipient, int24 tickLower, int24 tickUpper, uint128 amount, bytes calldata data)
        external
        returns (uint256, uint256);
    function swap(
        address recipient,
        bool zeroForOne,
        int256 amountSpecified,
        uint160 sqrtPriceLimitX96,
        bytes calldata data
    ) external returns (int256, int256);
}

/// The callbacks a Uniswap V3 pool requires of whoever mints or swaps: the payer (the caller of
/// `mint`/`swap` here, who approved this contract) pays the pool directly, so this contract
/// never holds tokens.
contract V3Caller {
    uint160 internal constant MIN_SQRT_RATIO = 4295128739;
    uint160 internal constant MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342;

    function mint(address pool, int24 tickLower, int24 tickUpper, uint128 liquidity) external {
        IUniswapV3PoolLike(pool).mint(msg.sender, tickLower, tickUpper, liquidity, abi.encode(msg.sender));
    }

    function swap(address pool, bool zeroForOne, int256 amountSpecified, address recipient) external {
        uint160 limit = zeroForOne ? MIN_SQRT_RATIO + 1 : MAX_SQRT_RATIO - 1;
        IUniswapV3PoolLike(pool).swap(recipient, zeroForOne, amountSpecified, limit, abi.encode(msg.sender));
    }

    function uniswapV3MintCallback(uint256 owed0, uint256 owed1, bytes calldata data) external {
        pay(data, owed0, owed1);
    }

    function uniswapV3SwapCallback(int256 delta0, int256 delta1, bytes calldata data) external {
        pay(data, delta0 > 0 ? uint256(delta0) : 0, delta1 > 0 ? uint256(delta1) : 0);
    }

    function pay(bytes calldata data, uint256 owed0, uint256 owed1) internal {
        address payer = abi.decode(data, (address));
        IUniswapV3PoolLike pool = IUniswapV3PoolLike(msg.sender);
        if (owed0 > 0) require(SimpleToken(pool.token0()).transferFrom(payer, msg.sender, owed0), "pay0");
        if (owed1 > 0) require(SimpleToken(pool.token1()).transferFrom(payer, msg.sender, owed1), "pay1");
    }
}

/// A lock-and-release bridge of the kind a config declares by its events (`kind = "event"`):
/// `lock` pulls the owner's tokens and emits `Locked` with this box's next nonce; the operator
/// pays the same amount out of the box on the other chain with `release`, which emits
/// `Released` with the deposit's nonce.
contract Lockbox {
    uint64 public nextNonce;
    address private operator;
    mapping(uint64 => bool) public released;

    event Locked(address indexed owner, address token, uint256 amount, uint64 nonce);
    event Released(address indexed recipient, address token, uint256 amount, uint64 nonce);

    constructor() {
        operator = msg.sender;
    }

    function lock(address token, uint256 amount) external returns (uint64 nonce) {
        require(SimpleToken(token).transferFrom(msg.sender, address(this), amount), "pull");
        nonce = nextNonce;
        nextNonce = nonce + 1;
        emit Locked(msg.sender, token, amount, nonce);
    }

    function release(address recipient, address token, uint256 amount, uint64 nonce) external {
        require(msg.sender == operator, "operator");
        require(!released[nonce], "released");
        released[nonce] = true;
        require(SimpleToken(token).transfer(recipient, amount), "pay");
        emit Released(recipient, token, amount, nonce);
    }
}

/// A pool whose `Swap` events are not backed by the token movements they claim (the logs of
/// one or both legs are missing): V2- and V3-style `Swap` with nothing moved, and a V2 `Swap`
/// after taking the caller's tokens without paying anything out.
contract HollowPool {
    event Swap(
        address indexed sender, uint256 amount0In, uint256 amount1In, uint256 amount0Out, uint256 amount1Out, address indexed to
    );
    event Swap(
        address indexed sender,
        address indexed recipient,
        int256 amount0,
        int256 amount1,
        uint160 sqrtPriceX96,
        uint128 liquidity,
        int24 tick
    );

    function swapNothing() external {
        emit Swap(msg.sender, 5, 0, 0, 7, msg.sender);
        emit Swap(msg.sender, msg.sender, int256(5), int256(-7), uint160(1 << 96), uint128(1000), int24(0));
    }

    function swapTaking(address token, uint256 amount) external {
        require(SimpleToken(token).transferFrom(msg.sender, address(this), amount), "pull");
        emit Swap(msg.sender, amount, 0, 0, amount, msg.sender);
    }
}
