import Master
import Slave
print("wdpost")
