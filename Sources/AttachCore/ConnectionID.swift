/// Identifies one connection to the daemon, control or rendezvous. The daemon hands them out.
public typealias ConnectionID = UInt64
