from exchange.models.accounts import AccountRestriction, RestrictionKind
from exchange.models.ledger import Balance, LedgerEntry, LedgerKind
from exchange.models.market_data import CANDLE_PERIODS, Candle
from exchange.models.operations import (
    ApiKey,
    Ban,
    CostClass,
    RateLimitPolicy,
    SecurityType,
)
from exchange.models.orders import Order, OrderSide, OrderStatus, SettlementStatus, Trade
from exchange.models.reference import FeeSchedule, Market, MarketStatus, Network, Token
from exchange.models.streams import StreamCounter, StreamEvent
from exchange.models.transfers import Transfer, TransferKind, TransferStatus

__all__ = [
    "CANDLE_PERIODS",
    "AccountRestriction",
    "ApiKey",
    "Balance",
    "Ban",
    "Candle",
    "CostClass",
    "FeeSchedule",
    "LedgerEntry",
    "LedgerKind",
    "Market",
    "MarketStatus",
    "Network",
    "Order",
    "OrderSide",
    "OrderStatus",
    "RateLimitPolicy",
    "RestrictionKind",
    "SecurityType",
    "SettlementStatus",
    "StreamCounter",
    "StreamEvent",
    "Token",
    "Trade",
    "Transfer",
    "TransferKind",
    "TransferStatus",
]
