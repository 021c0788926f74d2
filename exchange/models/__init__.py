from exchange.models.reference import FeeSchedule, Market, MarketStatus, Network, Token

__all__ = ["FeeSchedule", "Market", "MarketStatus", "Network", "Token"]
