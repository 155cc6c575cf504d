import SheafCrypto
@_exported import SheafRandom
@_exported import SheafTestSupport

