def apply(flavor): pass
def faust_settings(flavor): return {}
def consumer_settings(flavor): return {}
