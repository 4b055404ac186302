"""Detect: normalise text, load watchlist rules, match articles, emit `Alert`s.

Everything here is pure: it takes `ingest.Article`s and returns `Alert`s. The service layer only
calls `build_matcher(watchlists).match(article)`, so the matching engine can be replaced freely.
"""

from detect.matcher import ArticleMatcher, build_matcher
from detect.model import Alert
from detect.watchlist import Watchlist

__all__ = ["Alert", "ArticleMatcher", "Watchlist", "build_matcher"]
