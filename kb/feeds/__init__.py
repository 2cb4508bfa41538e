"""The feeds pipeline: the list file (and OPML), fetching, items, poll state and the poller."""
