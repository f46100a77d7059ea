"""Fictitious customers, people and request scenarios for petrocs's demo data set.

Kept apart from generate.py so that the MIME plumbing and the business content can be read
(and changed) separately.  Every company, person, domain and phone number here is invented;
domains use the reserved .example top-level domain.

A scenario is a kind of request a petrochemical services company really receives.  Its
subject and body are templates: generate.py fills the {placeholders} from a seeded random
pick (unit, equipment tag, measured values, dates), so one scenario yields several distinct
requests from different customers.
"""

# key, simplified/traditional/English name, mail domain, industry, tier, script
# script: "hans" = mainland (GB charsets / UTF-8), "hant" = Taiwan / Hong Kong (Big5), "en".
COMPANIES = [
    ("hdsh", "华东石化炼油有限公司", "hdsh-refining.example", "oil_gas_supplier", "strategic", "hans"),
    ("bhw", "渤海湾化工股份有限公司", "bhw-chem.example", "chemical_producer", "large", "hans"),
    ("cjny", "长江能源投资集团有限公司", "cj-energy.example", "energy_investor", "strategic", "hans"),
    ("xbqt", "西部天然气供应有限公司", "xb-gas.example", "oil_gas_supplier", "large", "hans"),
    ("nfjx", "南方精细化工有限公司", "nf-finechem.example", "chemical_producer", "sme", "hans"),
    ("dhlng", "东海液化天然气接收站有限公司", "dh-lng.example", "oil_gas_supplier", "large", "hans"),
    ("bhxc", "滨海新材料科技有限公司", "bh-newmat.example", "chemical_producer", "sme", "hans"),
    ("zyqt", "中原工业气体有限公司", "zy-gases.example", "oil_gas_supplier", "sme", "hans"),
    ("nclh", "宁川炼化有限公司", "ningchuan-rc.example", "oil_gas_supplier", "large", "hans"),
    ("jqjx", "金桥聚烯烃有限公司", "jq-polyolefin.example", "chemical_producer", "large", "hans"),
    ("lgsthj", "临港市生态环境局", "lingang-eeb.example", "regulator", "large", "hans"),
    ("lgyj", "临港市应急管理局", "lingang-ema.example", "regulator", "large", "hans"),
    ("hygc", "恒远工程技术有限公司", "hengyuan-eng.example", "partner", "large", "hans"),
    ("bfcy", "北方储运物流有限公司", "bf-logistics.example", "partner", "sme", "hans"),
    ("lyjc", "绿源环境监测有限公司", "lvyuan-monitor.example", "partner", "sme", "hans"),
    ("xhhg", "新海化工园区管理有限公司", "xinhai-park.example", "chemical_producer", "strategic", "hans"),
    ("tjsh", "臺嘉石化股份有限公司", "taijia-petro.example", "chemical_producer", "large", "hant"),
    ("gwyp", "港灣油品儲運股份有限公司", "gangwan-oil.example", "oil_gas_supplier", "sme", "hant"),
    ("hfny", "華峰能源貿易(香港)有限公司", "huafeng-energy.example", "oil_gas_supplier", "large", "hant"),
    ("wgqt", "維港氣體有限公司", "victoria-gas.example", "oil_gas_supplier", "sme", "hant"),
    ("mep", "Meridian Energy Partners", "meridian-ep.example", "energy_investor", "strategic", "en"),
    ("prc", "Pacific Rim Chemicals Pte Ltd", "pacrim-chem.example", "chemical_producer", "large", "en"),
    ("gsl", "Gulfstar LNG Trading LLC", "gulfstar-lng.example", "oil_gas_supplier", "large", "en"),
    ("ncs", "Northsea Catalyst Services Ltd", "northsea-cat.example", "partner", "sme", "en"),
    ("hvp", "Harbourview Polymers Ltd", "harbourview-poly.example", "chemical_producer", "sme", "en"),
]

# (characters, romanisation) pairs; the romanisation builds the mailbox's local part.
SURNAMES_HANS = [("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"),
                 ("杨", "yang"), ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"),
                 ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"), ("胡", "hu"),
                 ("郭", "guo"), ("何", "he"), ("高", "gao"), ("林", "lin"), ("郑", "zheng"),
                 ("梁", "liang"), ("谢", "xie"), ("宋", "song"), ("唐", "tang"), ("韩", "han"),
                 ("冯", "feng"), ("邓", "deng"), ("曹", "cao"), ("彭", "peng"), ("曾", "zeng"),
                 ("田", "tian"), ("董", "dong"), ("潘", "pan"), ("蒋", "jiang"), ("魏", "wei")]
GIVEN_HANS = [("建国", "jianguo"), ("海涛", "haitao"), ("丽娟", "lijuan"), ("志强", "zhiqiang"),
              ("晓东", "xiaodong"), ("文静", "wenjing"), ("永刚", "yonggang"), ("秀英", "xiuying"),
              ("国栋", "guodong"), ("雪梅", "xuemei"), ("立新", "lixin"), ("春华", "chunhua"),
              ("明辉", "minghui"), ("晓燕", "xiaoyan"), ("振华", "zhenhua"), ("桂芳", "guifang"),
              ("思远", "siyuan"), ("子涵", "zihan"), ("浩然", "haoran"), ("婷婷", "tingting"),
              ("卫东", "weidong"), ("德胜", "desheng"), ("玉兰", "yulan"), ("俊杰", "junjie"),
              ("佳怡", "jiayi"), ("宏伟", "hongwei"), ("敏", "min"), ("磊", "lei"), ("静", "jing"),
              ("勇", "yong"), ("鹏", "peng")]
# Given names with a character outside GB2312 but inside GBK: the mislabelled-charset mails
# (declared gb2312, bytes are GBK, as Foxmail and old Outlook really send them).
GIVEN_GBK_ONLY = [("喆", "zhe"), ("镕", "rong"), ("堃", "kun"), ("一喆", "yizhe"),
                  ("镕生", "rongsheng"), ("子堃", "zikun"), ("浩喆", "haozhe")]
# Given names with a character outside GBK: 䶮 (GB18030 two-byte FE9F) and 㛃 (GB18030
# four-byte sequence 82 30 B7 31); only GB18030 or UTF-8 can carry them.
GIVEN_GB18030_ONLY = [("䶮", "yan"), ("㛃", "jie"), ("子䶮", "ziyan"), ("晓㛃", "xiaojie")]
SURNAMES_HANT = [("陳", "chen"), ("林", "lin"), ("黃", "huang"), ("張", "chang"), ("李", "lee"),
                 ("王", "wang"), ("吳", "wu"), ("劉", "liu"), ("蔡", "tsai"), ("楊", "yang"),
                 ("許", "hsu"), ("鄭", "cheng"), ("謝", "hsieh"), ("郭", "kuo"), ("曾", "tseng"),
                 ("梁", "leung"), ("何", "ho"), ("周", "chow")]
GIVEN_HANT = [("志明", "chihming"), ("淑芬", "shufen"), ("家豪", "kaho"), ("美玲", "meiling"),
              ("建宏", "chienhung"), ("雅婷", "yating"), ("俊傑", "chunchieh"), ("怡君", "yichun"),
              ("冠宇", "kuanyu"), ("佩珊", "peishan"), ("振昇", "chensheng"), ("宗翰", "tsunghan"),
              ("詩涵", "shihhan"), ("偉倫", "wailun"), ("嘉欣", "kayan"), ("慧敏", "waiman")]
NAMES_EN = ["Oliver Grant", "Priya Raman", "Daniel Hughes", "Mei Ling Tan", "Samuel Okafor",
            "Laura Bennett", "Rashid Al-Farsi", "Hannah Schulz", "Kenji Morimoto", "Aisha Noor",
            "Thomas Whitfield", "Sofia Marques", "Liam O'Connor", "Grace Lim", "Martin Novak"]

TITLES_HANS = ["设备主任", "机动处副处长", "安全环保部经理", "生产调度", "工艺工程师", "采购经理",
               "仪表主管", "环保专员", "运行部副经理", "技术总监", "项目经理", "综合办主任"]
TITLES_HANT = ["設備課長", "工安環保經理", "廠務主任", "採購專員", "製程工程師", "營運經理"]
TITLES_EN = ["Plant Manager", "Maintenance Superintendent", "HSE Manager", "Procurement Lead",
             "Process Engineer", "Investment Director", "Operations Manager"]

UNITS_HANS = ["常减压装置", "催化裂化装置", "加氢裂化装置", "连续重整装置", "延迟焦化装置",
              "乙烯裂解装置", "芳烃联合装置", "聚丙烯装置", "PTA装置", "硫磺回收装置",
              "气体分馏装置", "环氧乙烷装置", "柴油加氢装置", "LNG接收站", "中间罐区"]
UNITS_HANT = ["輕油裂解工場", "芳香烴工場", "儲槽區", "聚乙烯工場", "碼頭卸收站", "公用工場"]
UNITS_EN = ["crude distillation unit", "FCC unit", "hydrocracker", "steam cracker",
            "polypropylene plant", "LNG terminal", "tank farm", "sulphur recovery unit"]

PRODUCTS_HANS = ["92号汽油", "0号柴油", "航煤", "液化石油气", "丙烯", "纯苯", "对二甲苯",
                 "甲醇", "液化天然气", "混合芳烃", "石脑油", "聚丙烯粒料"]

# Each scenario: key, service_type (what the company would file it under), language,
# urgency hint, impact hint, subject template, body template.
# lang: zh-CN (simplified), zh-TW (traditional, Big5 customers), en.
SCENARIOS = [
    # ---------------- equipment maintenance ----------------
    ("pump_vibration", "equipment_maintenance", "zh-CN", "high", "single",
     "{unit}{tag}离心泵振动超标，请尽快派人检修",
     "贵公司客服中心：\n\n我厂{unit}进料泵{tag}（单级悬臂离心泵）自{day}起振动持续升高，"
     "驱动端轴承水平方向振动速度{vib} mm/s，已超过报警值7.1 mm/s，轴承温度{temp}℃，现场能听到明显异响。"
     "目前已切换至备用泵运行，但备用泵上月刚检修过，运行状态也不太理想。\n\n"
     "初步怀疑是叶轮不平衡或轴承磨损，请贵公司安排有经验的转动设备工程师到现场诊断，"
     "最好能带振动频谱分析仪。\n\n现场联系人：{name}，电话 {phone}。"),
    ("pump_vibration_en", "equipment_maintenance", "en", "high", "single",
     "High vibration on centrifugal pump {tag} - request for site visit",
     "Hello,\n\nPump {tag} in our {unit_en} has shown rising vibration since {day_en}. "
     "The latest reading on the drive-end bearing is {vib} mm/s RMS (alarm at 7.1), bearing "
     "temperature {temp} C. We have switched to the standby pump for now.\n\n"
     "Could you send a rotating equipment specialist with a vibration analyser this week? "
     "We would also like a root-cause report afterwards.\n\nThanks,"),
    ("seal_leak", "equipment_maintenance", "zh-CN", "high", "single",
     "{tag}泵机械密封泄漏，需更换机封",
     "您好！\n\n我单位{unit}{tag}热油泵机械密封出现泄漏，冲洗方案为PLAN 23，介质温度约{temp}℃。"
     "今天早班巡检发现密封处滴漏约每分钟{drops}滴，下午有加剧趋势，已用接油盘临时收集。\n\n"
     "该泵为关键机泵，无法长时间停运。请确认贵公司是否有同型号集装式机封备件，"
     "能否在{date}前完成更换？需要我们提供哪些资料（泵型号、密封腔尺寸）请告知。\n\n"
     "谢谢！"),
    ("compressor_surge", "equipment_maintenance", "zh-CN", "critical", "site",
     "紧急：{kt}离心压缩机频繁喘振，装置降量运行",
     "紧急！\n\n{unit}循环氢压缩机{kt}今日凌晨起出现多次喘振，防喘振阀{valve}频繁动作，"
     "出口压力波动约{pct}%，轴位移报警两次。为保证安全，装置已降负荷至{load}%运行。\n\n"
     "请贵公司压缩机专家今天内到场，协助检查防喘振控制系统和干气密封，"
     "必要时协助做性能曲线校核。我方生产部24小时有人值守。\n\n"
     "联系人：{name}（{title}），{phone}"),
    ("compressor_valve", "equipment_maintenance", "zh-CN", "medium", "single",
     "往复式压缩机{kt}排气温度偏高，疑似气阀故障",
     "客服您好，\n\n我公司{unit}新氢压缩机{kt}（往复式）二级排气温度近一周从118℃升高到{temp}℃，"
     "排气量下降约{pct}%。根据以往经验可能是气阀阀片破损或弹簧失效。\n\n"
     "希望贵公司在下周安排一次检修，更换气阀并检查活塞环。请报价并告知最早可安排的时间。"),
    ("hx_fouling", "equipment_maintenance", "zh-CN", "medium", "single",
     "换热器{ex}结垢严重，换热效率下降，申请清洗服务",
     "你好：\n\n{unit}原油换热网络中{ex}（管壳式，管程走原油）近两个月换热效率明显下降，"
     "出口温度比设计值低{dt}℃，压降从0.08 MPa涨到{dp} MPa，判断管程结垢严重。\n\n"
     "计划利用{date}左右的切换窗口进行在线切出清洗，请贵公司提供化学清洗或高压水射流清洗方案、"
     "工期和报价。另外想咨询一下阻垢剂注入方案，能否一并评估？"),
    ("hx_fouling_en", "equipment_maintenance", "en", "medium", "single",
     "Heat exchanger {ex} fouling - cleaning proposal needed",
     "Dear service team,\n\nExchanger {ex} in our {unit_en} has lost about {pct}% of its duty "
     "over the last quarter; tube-side pressure drop is up to {dp} MPa. We suspect asphaltene "
     "fouling.\n\nPlease send us a proposal for hydro-jetting or chemical cleaning, with "
     "expected duration and cost, so we can plan it into the {date_en} window.\n\nRegards,"),
    ("valve_leak", "equipment_maintenance", "zh-CN", "medium", "single",
     "调节阀{valve}内漏及填料函外漏问题",
     "您好，\n\n我厂{unit}调节阀{valve}（DN{dn}，介质为{medium}）出现两个问题：一是全关时仍有明显流量，"
     "判断阀芯阀座内漏；二是填料函处有轻微外漏，已紧过一次填料压盖但效果不好。\n\n"
     "请派仪表阀门工程师来现场看一下，确认是在线处理还是需要下线返修。"),
    ("valve_leak_en", "equipment_maintenance", "en", "medium", "single",
     "Control valve {valve} passing and packing leak",
     "Hi,\n\nControl valve {valve} (DN{dn}) on our {unit_en} is passing when fully closed and "
     "the packing gland is weeping. We re-torqued the gland once without success.\n\n"
     "Please arrange a valve technician to assess whether it can be repaired in line.\n\nBest,"),
    ("furnace_tube", "equipment_maintenance", "zh-CN", "high", "site",
     "加热炉炉管局部过热，请求技术支持",
     "贵公司：\n\n{unit}加热炉F-{n3}辐射段红外测温发现有{tubes}根炉管局部温度达到{temp}℃，"
     "高于设计壁温，外观有轻微鼓包迹象。目前已适当降低炉出口温度。\n\n"
     "请安排炉管检测（测厚、蠕胀测量）并给出是否可以继续运行到大修的评估意见。"),
    ("aircooler", "equipment_maintenance", "zh-CN", "low", "single",
     "空冷器风机皮带频繁断裂",
     "客服：\n\n{unit}顶部空冷器风机近一个月已断了三次皮带，每次更换后运行一周左右又断。"
     "怀疑皮带轮不对中或张紧装置有问题。不算紧急，请在方便时安排人员检查，谢谢。"),
    ("turbine_trip", "equipment_maintenance", "zh-CN", "high", "site",
     "汽轮机{kt}跳车后无法冲转，请派专家",
     "你好，\n\n{date}晚{hour}点左右，{unit}驱动汽轮机{kt}因轴振动高联锁跳车，"
     "复位后两次尝试冲转均在{rpm} rpm附近振动超标。目前由电动备机维持生产，但备机能力不足，"
     "装置只能维持{load}%负荷。\n\n请贵公司汽轮机专家尽快来厂，协助分析临界转速附近的振动问题。"),
    # ---------------- emergencies ----------------
    ("gas_leak", "safety_inspection", "zh-CN", "critical", "site",
     "【紧急】{unit}可燃气体泄漏报警，请求应急支援",
     "紧急情况！\n\n今天{hour}:{minute}，{unit}{area}区域可燃气体报警器GD-{n3}报警，读数达到{lel}%LEL，"
     "现场可闻到明显气味，初步判断为{medium}管线法兰泄漏。装置已启动应急预案，"
     "周边区域已疏散并设置警戒，目前无人员受伤。\n\n"
     "请贵公司应急抢修队立即出动，携带带压堵漏工具。现场指挥：{name}，手机{phone}。"),
    ("h2s_leak", "safety_inspection", "zh-CN", "critical", "site",
     "紧急：硫化氢泄漏，一名操作工出现不适",
     "紧急求援！\n\n{unit}酸性气管线今晨发生硫化氢泄漏，现场H2S检测仪最高读数{ppm} ppm。"
     "一名巡检操作工出现头晕、恶心症状，已送医院观察，其余人员已撤离至上风向集合点。\n\n"
     "泄漏点已通过关阀隔离，但管线仍有残压。请立即派出具备气防资质的抢修人员和检测设备到场。"
     "我方安全总监{name}在现场，电话{phone}。"),
    ("fire", "safety_inspection", "zh-CN", "critical", "public",
     "【特急】{unit}泵区着火，装置紧急停车",
     "特急！\n\n{date}{hour}时{minute}分，{unit}泵区{tag}附近发生火情，疑似机封失效导致热油泄漏着火。"
     "企业专职消防队已到场扑救，明火已于{minute2}分钟后扑灭，装置已紧急停车，"
     "有一名操作人员手部轻度烫伤，已送医。\n\n"
     "请贵公司立即派出事故调查和设备抢修人员，协助评估设备损坏情况和恢复开车条件。"
     "园区应急管理部门已知悉。"),
    ("explosion", "safety_inspection", "zh-CN", "critical", "public",
     "紧急：罐区发生闪爆，请求技术支援",
     "紧急通报：\n\n今天{hour}:{minute}许，我公司中间罐区一座内浮顶罐（T-{n3}）呼吸阀附近发生闪爆，"
     "罐顶局部变形，未起火，无人员伤亡。已启动二级应急响应，周边罐已开启喷淋冷却，"
     "并已报告当地应急管理局。\n\n"
     "请贵公司派储罐安全专家和检测人员来现场，协助查明原因（怀疑静电或油气浓度超限），"
     "并评估相邻储罐的安全状况。联系人：{name} {phone}"),
    ("shutdown", "equipment_maintenance", "zh-CN", "critical", "site",
     "装置非计划停车，急需恢复开车支持",
     "您好！\n\n{unit}今天{hour}点因DCS一块I/O卡件故障导致联锁误动作，整个装置非计划停车。"
     "目前卡件已更换，但开车前需要对联锁逻辑和{n2}台关键机组做全面确认。\n\n"
     "停车每小时损失很大，请贵公司仪控和工艺专家立即到场协助开车，越快越好。"),
    ("injury_en", "safety_inspection", "en", "critical", "site",
     "URGENT: contractor injured during maintenance - incident support needed",
     "URGENT\n\nAt {hour}:{minute} today a contractor was injured (suspected chemical burn to "
     "the forearm) while breaking a flange on the {unit_en}. He has been taken to hospital and is "
     "conscious. The area is isolated and the line is depressurised.\n\nWe need your HSE team "
     "on site for the incident investigation and to review the line-break permit procedure "
     "before work resumes. Site contact: {name}, {phone}."),
    ("leak_en", "safety_inspection", "en", "critical", "site",
     "Emergency: hydrocarbon leak at {unit_en}, unit shut down",
     "Emergency.\n\nA hydrocarbon leak was detected at {hour}:{minute} on the {unit_en} "
     "(gas detectors at {lel}% LEL). The unit has been shut down and the area evacuated; no "
     "injuries. We need your emergency repair crew with leak-sealing equipment as soon as "
     "possible.\n\nIncident commander: {name}, {phone}."),
    # ---------------- safety inspection ----------------
    ("hazop", "safety_inspection", "zh-CN", "medium", "site",
     "{unit}技改项目HAZOP分析服务需求",
     "您好，\n\n我公司{unit}拟实施一项扩能技改，新增一台反应器和配套换热系统，"
     "根据应急管理部门要求需在基础设计阶段开展HAZOP分析和LOPA分析。\n\n"
     "想请贵公司组织HAZOP主席和记录员，计划{date}开始，预计节点约{nodes}个，会期{days}天。"
     "请提供服务方案、人员资质和报价。P&ID图纸可在签订保密协议后提供。"),
    ("safety_check", "safety_inspection", "zh-CN", "medium", "site",
     "申请年度安全检查服务",
     "贵公司客服中心：\n\n根据集团要求，我公司需在年底前完成一次全厂安全检查，"
     "重点包括：重大危险源管理、特种设备、动火和受限空间作业票证、可燃有毒气体报警系统、消防设施。"
     "希望贵公司派专家组进行为期{days}天的现场检查并出具整改建议报告。\n\n"
     "请告知可安排的时间和费用。"),
    ("regulator_safety", "safety_inspection", "zh-CN", "medium", "multi_site",
     "关于委托开展园区重大危险源专项安全检查的函",
     "petrocs客户服务中心：\n\n根据年度安全生产工作安排，我局拟委托贵公司对化工园区内{n2}家涉及重大危险源的企业"
     "开展专项安全检查，重点检查储罐区、装卸站台和可燃有毒气体检测报警系统。\n\n"
     "请于{date}前报送检查方案和人员安排。联系人：{name}，电话{phone}。\n\n临港市应急管理局"),
    ("pressure_vessel", "safety_inspection", "zh-CN", "low", "single",
     "压力容器定期检验到期提醒及预约",
     "您好：\n\n我单位有{n2}台压力容器（分离罐、缓冲罐）定期检验将于明年{month}月到期，"
     "想提前预约贵公司的检验服务，并咨询能否结合停工检修一起做，以减少停工时间。谢谢。"),
    ("sil", "safety_inspection", "zh-CN", "medium", "site",
     "SIS系统SIL定级与验证服务咨询",
     "您好，\n\n我公司{unit}安全仪表系统共有约{n2}个SIF回路，需要开展SIL定级和SIL验证，"
     "以满足GB/T 21109的要求。请问贵公司是否提供此项服务？周期大概多长？需要我们准备哪些资料？"),
    ("safety_en", "safety_inspection", "en", "medium", "site",
     "Request for HAZOP facilitation - {unit_en} debottlenecking",
     "Dear petrocs team,\n\nWe are planning a debottlenecking project on our {unit_en} and need "
     "an independent HAZOP chair and scribe. Estimated {nodes} nodes, sessions starting around "
     "{date_en}.\n\nPlease send CVs of proposed facilitators and a fee proposal.\n\nKind regards,"),
    ("tank_inspection_tw", "safety_inspection", "zh-TW", "medium", "site",
     "儲槽開放檢查及底板測厚服務詢價",
     "您好：\n\n本公司{unit_tw}有一座外浮頂儲槽（TK-{n3}）預定明年第一季停用清槽，"
     "需要進行開放檢查、底板漏磁檢測及浮頂密封檢查。\n\n"
     "請貴公司提供服務範圍、工期與報價，謝謝。"),
    # ---------------- environmental ----------------
    ("vocs", "environmental_compliance", "zh-CN", "medium", "site",
     "VOCs无组织排放监测超标，请协助整改",
     "你好，\n\n{month}月份第三方监测报告显示，我厂{unit}厂界非甲烷总烃浓度为{nmhc} mg/m3，"
     "超过《挥发性有机物无组织排放控制标准》限值4.0 mg/m3。生态环境局已要求我们限期整改。\n\n"
     "请贵公司协助：1）开展LDAR泄漏检测与修复；2）排查储罐和装卸环节的VOCs排放；"
     "3）出具整改方案。时间比较紧，请尽快回复。"),
    ("cod", "environmental_compliance", "zh-CN", "high", "site",
     "污水处理场出水COD超标，急需技术支持",
     "您好：\n\n我公司污水处理场外排口在线监测显示，近{n1}天出水COD持续在{cod} mg/L左右，"
     "超过排放限值60 mg/L，氨氮正常。进水COD没有明显变化，怀疑生化池污泥活性下降。\n\n"
     "请贵公司环保工程师尽快来现场诊断，分析原因并给出调整方案。附件是近一周的化验数据。"),
    ("cems", "environmental_compliance", "zh-CN", "high", "site",
     "在线监测数据异常，环保平台报警",
     "客服您好，\n\n我厂{unit}加热炉烟气CEMS在线监测系统从{date}起SO2数据出现跳变，"
     "时而为零时而超量程，导致省环保平台连续报警。现场比对监测结果正常，判断是分析仪或采样系统故障。\n\n"
     "按要求故障需在规定时间内恢复并报备，请尽快安排运维人员到场。"),
    ("flare", "environmental_compliance", "zh-CN", "medium", "public",
     "火炬冒黑烟问题咨询",
     "您好，\n\n最近几次装置波动时，我厂火炬出现冒黑烟现象，周边居民有投诉。"
     "请问贵公司能否评估火炬消烟蒸汽配比和火炬气回收系统，给出改进建议？"),
    ("regulator_data", "environmental_compliance", "zh-CN", "medium", "multi_site",
     "关于提供园区企业在线监测数据分析报告的函",
     "petrocs客户服务中心：\n\n为做好化工园区大气环境质量管控工作，请贵公司作为园区环境监测数据分析服务单位，"
     "于{date}前报送{month}月园区重点企业VOCs在线监测数据分析报告，"
     "重点说明超标时段、涉及企业及原因分析。\n\n联系人：{name}，电话{phone}。\n\n临港市生态环境局"),
    ("env_en", "environmental_compliance", "en", "medium", "site",
     "Wastewater COD above permit limit",
     "Hello,\n\nOur effluent COD has been around {cod} mg/L for {n1} days, above the 60 mg/L "
     "permit limit. Influent load looks normal; we suspect the biological stage. Could your "
     "environmental engineer visit and advise? Lab data attached.\n\nRegards,"),
    ("vocs_tw", "environmental_compliance", "zh-TW", "medium", "site",
     "VOCs設備元件洩漏檢測(LDAR)委託",
     "您好：\n\n依環保主管機關要求，本廠{unit_tw}需於本季完成設備元件揮發性有機物洩漏檢測，"
     "元件數量約{comps}個。請問貴公司可否承接，並提供檢測時程及報價？\n\n謝謝"),
    # ---------------- process optimisation ----------------
    ("energy_opt", "process_optimisation", "zh-CN", "low", "site",
     "{unit}能耗偏高，希望开展节能诊断",
     "您好，\n\n我公司{unit}综合能耗比行业标杆高约{pct}%，公司今年节能考核压力较大。"
     "希望贵公司开展一次节能诊断，包括换热网络夹点分析、加热炉效率和蒸汽系统平衡，给出投资回报清晰的改进措施。"),
    ("yield_opt", "process_optimisation", "zh-CN", "medium", "site",
     "催化裂化装置汽油收率下降原因分析",
     "客服中心：\n\n我厂催化裂化装置近两个月汽油收率从{y1}%降到{y2}%，干气和焦炭产率上升。"
     "原料性质变化不大，怀疑是催化剂活性或反应温度控制问题。请安排工艺专家来厂分析，并给出操作优化建议。"),
    ("apc", "process_optimisation", "zh-CN", "low", "site",
     "先进控制(APC)项目咨询",
     "你好，\n\n我们计划在{unit}实施先进过程控制，想了解贵公司APC项目的实施周期、"
     "典型收益、需要的DCS接口条件，以及后期运维方式。能否安排一次技术交流？"),
    ("opt_en", "process_optimisation", "en", "low", "site",
     "Energy efficiency study for {unit_en}",
     "Hi team,\n\nWe'd like a pinch analysis and furnace efficiency review for our {unit_en}. "
     "Specific energy consumption is roughly {pct}% above benchmark. Please propose scope and "
     "schedule.\n\nCheers,"),
    ("catalyst_tw", "process_optimisation", "zh-TW", "medium", "site",
     "觸媒活性衰退，請協助評估換劑時機",
     "您好，\n\n本公司{unit_tw}加氫反應器觸媒使用已{n1}年，近期反應器入口溫度已提高約{dt}℃才能維持產品硫含量。"
     "請貴公司協助評估觸媒剩餘壽命與最佳換劑時機，並提供換劑服務報價。"),
    # ---------------- technical consulting ----------------
    ("corrosion", "technical_consulting", "zh-CN", "medium", "site",
     "常压塔顶系统腐蚀问题技术咨询",
     "您好：\n\n{unit}常压塔顶冷凝系统近期多次出现换热器管束腐蚀穿孔，塔顶回流罐排水pH值波动大，"
     "氯离子含量偏高。请贵公司腐蚀专家评估\"一脱三注\"工艺和材质升级方案。"),
    ("investor_dd", "technical_consulting", "zh-CN", "medium", "single",
     "关于某化工项目技术尽职调查服务的询价",
     "贵公司：\n\n我集团拟投资一家年产{cap}万吨的化工企业，需要第三方对其装置技术水平、设备完好率、"
     "安全环保合规性进行技术尽职调查，报告需在{date}前完成。\n\n请贵公司提供服务方案、团队介绍和报价。此事请注意保密。"),
    ("investor_en", "technical_consulting", "en", "medium", "single",
     "Technical due diligence - {cap} ktpa chemical asset",
     "Dear Sir or Madam,\n\nMeridian is evaluating an acquisition of a {cap} ktpa chemical "
     "asset. We need an independent technical due diligence covering asset integrity, HSE "
     "compliance and remaining life of major equipment, with a report by {date_en}.\n\n"
     "Please treat this enquiry as confidential and let us know your availability and fees.\n\n"
     "Best regards,"),
    # ---------------- training ----------------
    ("training_ops", "training", "zh-CN", "low", "site",
     "新员工操作培训需求",
     "您好，\n\n我公司今年新招聘操作工{n2}人，计划{month}月开展为期两周的岗前培训，"
     "内容包括工艺原理、DCS操作、开停工规程和应急处置。请问贵公司能否提供培训讲师和仿真培训系统？"),
    ("training_safety", "training", "zh-CN", "low", "site",
     "申请安全生产培训及应急演练指导",
     "贵公司：\n\n我单位计划年底前组织一次全员安全培训和一次硫化氢泄漏应急演练，"
     "希望贵公司派讲师授课并指导演练方案编制，参训人员约{n3}人。请提供方案和费用。"),
    ("training_en", "training", "en", "low", "site",
     "Operator training for new {unit_en} crew",
     "Hello,\n\nWe are commissioning a new {unit_en} and will have {n2} new operators. Could you "
     "provide a two-week training course (process fundamentals, start-up/shut-down, emergency "
     "response), ideally with simulator sessions?\n\nThank you,"),
    ("training_tw", "training", "zh-TW", "low", "site",
     "製程安全管理(PSM)教育訓練詢問",
     "您好，\n\n本公司預計於{month}月辦理製程安全管理教育訓練，對象為工程師及領班約{n2}人，"
     "請問貴公司是否有相關課程？授課可否使用繁體中文教材？"),
    # ---------------- data monitoring ----------------
    ("data_platform", "data_monitoring", "zh-CN", "medium", "site",
     "机组在线状态监测平台数据中断",
     "客服您好：\n\n贵公司为我厂部署的机组在线状态监测平台，从{date}起{kt}等{n2}台机组的振动数据无法上传，"
     "平台显示\"数据采集器离线\"。现场采集器指示灯正常，网络可以ping通。请远程排查或派人到场处理。"),
    ("data_report", "data_monitoring", "zh-CN", "low", "site",
     "申请月度设备运行数据分析报告",
     "您好，\n\n请协助出具{month}月我厂关键机组和机泵的运行数据分析报告，重点关注振动趋势、"
     "轴承温度和能耗指标，并对存在劣化趋势的设备给出预警和维护建议。原始数据见附件。"),
    ("data_api", "data_monitoring", "zh-CN", "medium", "multi_site",
     "数据接口对接问题：实时数据库无法写入",
     "你好，\n\n我们集团下属{n1}个厂区的实时数据需通过贵公司数据平台接口汇总，"
     "但从昨天开始接口返回超时，部分厂区数据缺失，影响集团生产日报。请技术人员尽快排查。"),
    ("data_en", "data_monitoring", "en", "medium", "site",
     "Condition monitoring dashboard not updating",
     "Hi,\n\nThe condition monitoring dashboard for our site stopped updating on {day_en}; "
     "vibration trends for {n2} machines are missing. The data collector appears online on our "
     "side. Could you investigate remotely?\n\nThanks,"),
    # ---------------- product supply ----------------
    ("crude_delay", "product_supply", "zh-CN", "high", "site",
     "原油船期延误，请确认到港时间",
     "您好：\n\n按合同，{qty}万吨进口原油应于{date}到港卸货，但至今未收到船舶动态更新。"
     "我厂原油库存只能维持约{n1}天，请尽快确认最新预计到港时间（ETA），如有延误请协助安排替代资源。"),
    ("oil_quality", "product_supply", "zh-CN", "high", "site",
     "{product}质量不合格，要求复检",
     "贵公司：\n\n{date}到货的{product}（批号{batch}）经我方化验，硫含量为{sulfur} mg/kg，"
     "超过合同约定的10 mg/kg，已暂停卸车。请贵公司尽快派人共同取样复检，并给出处理意见（退货或折价）。"),
    ("lng_truck", "product_supply", "zh-CN", "medium", "single",
     "LNG槽车配送计划调整",
     "您好，\n\n因下游用户用气量增加，我公司希望从{date}起将LNG槽车配送由每天{n1}车增加到{n2}车，"
     "请确认是否可以安排，以及价格是否有调整。"),
    ("chem_delivery", "product_supply", "zh-CN", "medium", "single",
     "{product}交货延迟，影响我方生产",
     "你好，\n\n我们订购的{qty}吨{product}（合同号{contract}）约定{date}前交货，目前已经延迟{n1}天，"
     "多次联系销售人员都说在协调。我方生产线原料即将用完，请给出明确的发货时间。"),
    ("supply_en", "product_supply", "en", "medium", "single",
     "LNG cargo nomination and quality certificate",
     "Dear team,\n\nPlease confirm the nomination for our LNG cargo loading around {date_en} "
     "and send the quality certificate (GCV, Wobbe index, composition) for the last two cargoes. "
     "Our buyer is asking for them.\n\nBest regards,"),
    ("supply_quality_en", "product_supply", "en", "high", "site",
     "Off-spec {product_en} delivery - batch {batch}",
     "Hello,\n\nThe {product_en} delivered on {day_en} (batch {batch}) failed our incoming "
     "inspection: water content {water} ppm against a 200 ppm spec. Unloading is on hold. Please "
     "send someone for joint sampling and tell us how you want to handle the batch.\n\nRegards,"),
    ("supply_hk", "product_supply", "zh-TW", "medium", "single",
     "柴油到貨數量與提單不符",
     "您好，\n\n本公司於{date_tw}收到之柴油，岸罐計量較提單數量短少約{short}公噸，超出合約允許損耗。"
     "請貴公司安排公證行會同檢驗，並說明後續處理方式。\n\n附件為計量報告。"),
    ("gas_hk", "product_supply", "zh-TW", "medium", "single",
     "工業氣體供應合約續約及價格查詢",
     "您好：\n\n本公司與貴公司之工業氣體供應合約將於年底到期，擬續約一年，"
     "並希望增加液氮月供應量約{n3}公噸。請提供新年度報價。"),
    # ---------------- complaints ----------------
    ("late_engineer", "complaint", "zh-CN", "high", "single",
     "投诉：工程师迟到且未提前通知",
     "贵公司领导：\n\n我们{date}报修的{tag}机泵故障，客服承诺上午9点工程师到场，"
     "结果下午{hour}点才到，期间没有任何人通知我们，装置为此多降量运行了半天。\n\n"
     "这已经是本季度第二次了，请贵公司给出书面解释和改进措施。"),
    ("poor_repair", "complaint", "zh-CN", "high", "single",
     "投诉：维修质量差，同一故障反复出现",
     "客服中心：\n\n贵公司上周对我厂{tag}机封进行了更换，结果运行不到{n1}天再次泄漏，"
     "拆检发现动静环安装有问题。这次维修不仅没有解决问题，还造成二次停机。\n\n"
     "要求贵公司：1）免费返修；2）赔偿停机损失；3）说明质量控制措施。"),
    ("billing", "complaint", "zh-CN", "medium", "single",
     "对账单金额有误的投诉",
     "您好，\n\n{month}月份贵公司开具的服务费发票金额为{amount}元，但双方确认的工作量单对应金额应为{amount2}元，"
     "多出的部分包含了未实际发生的夜间加班费。请核对并重开发票。"),
    ("attitude", "complaint", "zh-CN", "medium", "single",
     "对客服热线服务态度的投诉",
     "你好，\n\n{date}我打电话咨询维修进度，接线人员态度很不耐烦，没说完就挂断了电话，"
     "后来打了三次都没人接。希望贵公司加强管理，并给我一个答复。"),
    ("complaint_en", "complaint", "en", "high", "single",
     "Complaint: repeated repair failure on {tag}",
     "To whom it may concern,\n\nThis is the second time in a month that the mechanical seal "
     "your technician replaced on {tag} has failed within days. Each failure costs us a "
     "shutdown. We expect a free re-repair, a root-cause report and a discussion of "
     "compensation.\n\nRegards,"),
    ("billing_en", "complaint", "en", "medium", "single",
     "Invoice {invoice} - charges we did not agree",
     "Hello,\n\nInvoice {invoice} includes standby charges for two days that were never agreed "
     "and a call-out fee that our contract waives. Please review and reissue.\n\nThanks,"),
    ("complaint_tw", "complaint", "zh-TW", "high", "single",
     "客訴：維修人員未依約到場",
     "貴公司您好：\n\n本公司於{date_tw}申請之泵浦緊急維修，貴公司承諾四小時內到場，"
     "實際延遲至隔日才派員，造成生產損失。請貴公司正式說明原因並提出改善措施。"),
    # ---------------- misc / general ----------------
    ("spare_parts", "equipment_maintenance", "zh-CN", "low", "single",
     "备品备件询价：{tag}泵轴承及密封",
     "您好，\n\n请报{tag}离心泵（型号见铭牌照片）轴承一套、机械密封两套的价格和货期，谢谢。"),
    ("repair_tw", "equipment_maintenance", "zh-TW", "high", "single",
     "{tag}泵浦振動異常，請派員檢修",
     "您好：\n\n本廠{unit_tw}{tag}離心泵浦自{date_tw}起振動值升高至{vib} mm/s，"
     "軸承溫度{temp}度，已切換備用泵。請貴公司儘速派員診斷。\n\n聯絡人：{name}，電話{phone}"),
]
