"""typedecode's on-disk cache: a safe, versioned store on diskcache (see cache.store).

`FORMAT_VERSION` here is a copy; code that needs the live value reads `cache.store.FORMAT_VERSION`.
"""

from cache.errors import CacheWarning
from cache.location import resolve_cache_dir
from cache.store import FORMAT_VERSION, Store, get_store

__all__ = ["FORMAT_VERSION", "CacheWarning", "Store", "get_store", "resolve_cache_dir"]
